#!/usr/bin/env bash
# conformance.sh — score bin/berth-runtime with the OCI runtime-tools validation
# suite (not part of `npm test`: it takes minutes and needs root).
#
#   bash scripts/conformance.sh                 # the whole suite (58 programs)
#   bash scripts/conformance.sh hooks prestart  # some programs
#
# The suite and its runner live outside the repository, in ../shared/conformance
# next to the checkout (override with BERTH_CONFORMANCE_DIR). The suite is built
# into SUITE_DIR (default /var/cache/oci-conformance/suite) on first use, which
# installs Debian packages and takes a few minutes. Results (TAP files and
# summary.txt) go to RESULTS_DIR (default .cache/conformance). The last line
# printed is "N passed, N failed"; the exit status is non-zero when anything failed.
# docs/conformance.md records the current counts and why each failure happens.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONF=${BERTH_CONFORMANCE_DIR:-$(dirname "$ROOT")/shared/conformance}
export SUITE_DIR=${SUITE_DIR:-/var/cache/oci-conformance/suite}
export RESULTS_DIR=${RESULTS_DIR:-$ROOT/.cache/conformance}

die() { echo "conformance.sh: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (the suite creates real containers)"
[ -f "$CONF/run.sh" ] && [ -f "$CONF/build.sh" ] || die "no conformance runner in $CONF (set BERTH_CONFORMANCE_DIR)"

suite_ready() {
  [ -x "$SUITE_DIR/runtimetest" ] && compgen -G "$SUITE_DIR/validation/*.t" >/dev/null
}
if ! suite_ready; then
  echo "conformance.sh: building the suite into $SUITE_DIR (takes a few minutes)" >&2
  bash "$CONF/build.sh" || suite_ready || die "building the suite failed"
fi

# The runtime runs from the source tree: make sure its native core is current.
make -s -C "$ROOT/native" >&2 || die "building native/ failed"

export RUNTIME=$ROOT/bin/berth-runtime
exec bash "$CONF/run.sh" "$@"
