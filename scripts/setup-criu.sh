#!/usr/bin/env bash
# setup-criu.sh — make sure a CRIU that works on this kernel is installed.
# Called from scripts/setup.sh; quick (one `criu check`) when CRIU is already fine.
#
#   1. A working CRIU is one whose `criu check` passes and whose version is >= 4.2
#      (older ones pass `criu check` on kernels >= 6.13 and then hang or fail in
#      dump: see ../shared/CRIU.md). Candidates, in the order berth-runtime uses
#      them: $BERTH_CRIU, /usr/local/sbin/criu, criu on PATH.
#   2. Otherwise: install Debian's build dependencies, look the current CRIU orig
#      tarball up in Debian unstable's Sources index on the mirror apt already uses,
#      download it from the pool, verify its sha256, build `criu` and install it
#      under /usr/local (PREFIX=/usr/local -> /usr/local/sbin/criu).
#
# Environment: BERTH_CRIU (use this binary; no build), BERTH_SKIP_CRIU=1 (skip the
# whole step: checkpoint/restore tests are then skipped with the reason).
# Progress on stderr; exits non-zero with a message naming the failing step.
set -euo pipefail

LOG_NAME=setup-criu
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

MIN_MAJOR=4 MIN_MINOR=2

[ "${BERTH_SKIP_CRIU:-0}" = 1 ] && { step "skipped (BERTH_SKIP_CRIU=1)"; exit 0; }

# criu_version BIN -> "MAJOR MINOR" (empty when it does not run)
criu_version() {
  "$1" --version 2>/dev/null | sed -n 's/^Version: *\([0-9]*\)\.\([0-9]*\).*/\1 \2/p' | head -n1
}
# works BIN: criu check passes and the version is recent enough for this kernel
works() {
  local bin=$1 v maj min
  [ -x "$bin" ] || return 1
  v=$(criu_version "$bin")
  [ -n "$v" ] || return 1
  read -r maj min <<<"$v"
  if [ "$maj" -lt "$MIN_MAJOR" ] || { [ "$maj" -eq "$MIN_MAJOR" ] && [ "$min" -lt "$MIN_MINOR" ]; }; then
    step "$bin is CRIU $maj.$min (< $MIN_MAJOR.$MIN_MINOR: hangs in dump / no TCP dump on new kernels)"
    return 1
  fi
  timeout -k 5 60 "$bin" check >/dev/null 2>&1 || { step "$bin: criu check fails"; return 1; }
}

if [ -n "${BERTH_CRIU:-}" ]; then
  works "$BERTH_CRIU" || die "BERTH_CRIU=$BERTH_CRIU is not a working CRIU (>= $MIN_MAJOR.$MIN_MINOR, criu check)"
  exit 0
fi
for c in /usr/local/sbin/criu $(command -v criu 2>/dev/null || true); do
  works "$c" && exit 0
done

[ "$(id -u)" -eq 0 ] || die "no working CRIU (>= $MIN_MAJOR.$MIN_MINOR) and not root: cannot build one"

# One build at a time on this machine (several worktrees may run setup at once).
exec 9>/var/lock/berth-setup-criu.lock
flock 9
works /usr/local/sbin/criu && exit 0

# ------------------------------------------------------------ build dependencies
DEPS=(build-essential pkg-config xz-utils curl libprotobuf-c-dev protobuf-c-compiler
  protobuf-compiler libprotobuf-dev python3-protobuf libnl-3-dev libnet1-dev libcap-dev
  libaio-dev libbsd-dev libnftables-dev libgnutls28-dev uuid-dev iptables)
missing=()
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${DEPS[@]}" 2>/dev/null || true)
for p in "${DEPS[@]}"; do grep -qE "^$p ii" <<<"$installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing CRIU build dependencies: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-o DPkg::Lock::Timeout=300 -q)
  quietly apt-get "${apt_opts[@]}" update || die "apt-get update failed"
  quietly apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
fi

# ------------------------------------------------------------ source tarball
# The Debian mirror apt already uses (deb822 "URIs:" or one-line "deb URI suite").
apt_uris() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && sed -n 's/^URIs: *//p' "$f"; done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\).*/\2/p' "$f"
  done
  return 0
}
mirror=$(apt_uris | tr ' ' '\n' | grep -E '^https?://' | grep -E '/debian/?$' | head -n1 || true)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list(.d)"
mirror=${mirror%/}

WORK=$(mktemp -d /var/tmp/berth-criu.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
step "looking up CRIU in $mirror/dists/unstable/main/source/Sources.xz"
curl -fsSL --max-time 300 -o "$WORK/Sources.xz" "$mirror/dists/unstable/main/source/Sources.xz" ||
  die "download of the unstable Sources index from $mirror failed"
# -> "DIRECTORY SHA256 FILENAME" for criu's orig tarball
read -r dir sha file < <(xz -dc "$WORK/Sources.xz" | awk '
  /^Package: / { pkg = $2; dir = ""; insha = 0; next }
  pkg != "criu" { next }
  /^Directory: / { dir = $2; next }
  /^Checksums-Sha256:/ { insha = 1; next }
  /^[^ ]/ { insha = 0 }
  insha && $3 ~ /\.orig\.tar\.(xz|gz|bz2)$/ { sha = $1; file = $3 }
  /^$/ && pkg == "criu" && file != "" && dir != "" { print dir, sha, file; exit }
  END { if (pkg == "criu" && file != "" && dir != "") print dir, sha, file }' | head -n1) ||
  die "criu not found in the unstable Sources index"
[ -n "${file:-}" ] || die "no criu orig tarball in the unstable Sources index"
step "downloading $file (sha256 $sha)"
curl -fsSL --max-time 600 -o "$WORK/$file" "$mirror/$dir/$file" || die "download of $mirror/$dir/$file failed"
echo "$sha  $WORK/$file" | sha256sum -c --status - || die "$file: sha256 mismatch (expected $sha)"

# ------------------------------------------------------------ build + install
step "building CRIU from $file (takes a few minutes)"
mkdir "$WORK/src"
tar -xf "$WORK/$file" -C "$WORK/src" --strip-components=1 || die "unpacking $file failed"
# Debian's python3 for CRIU's build scripts, whatever python3 is first on PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
quietly make -C "$WORK/src" -j"$(nproc)" criu || die "make criu failed"
quietly make -C "$WORK/src" install-criu PREFIX=/usr/local || die "make install-criu failed"
works /usr/local/sbin/criu || die "the CRIU built from $file does not pass criu check"
step "installed $(/usr/local/sbin/criu --version | head -n1) at /usr/local/sbin/criu"
