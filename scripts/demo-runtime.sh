#!/usr/bin/env bash
# demo-runtime.sh — the low-level runtime alone: run one OCI bundle with berth-runtime.
#
# Sets the machine up (scripts/setup.sh), makes an OCI bundle in a temp dir from
# the busybox test rootfs and `berth-runtime spec`, edits config.json with jq
# (no terminal, hostname berth-demo, at most 64 pids, 64 MiB of memory, a shell
# script that reports what the container sees), runs it with
# `berth-runtime run`, then deletes the container and the bundle.
#
# RUNTIME overrides the runtime binary (same CLI as runc), e.g.
#   RUNTIME=runc bash scripts/demo.sh
# Exits with the container's exit status.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNTIME=${RUNTIME:-$ROOT/bin/berth-runtime}
ROOTFS=$ROOT/.cache/rootfs/busybox
ID=demo-$$

LOG_NAME=demo
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash scripts/demo.sh)"

bash "$ROOT/scripts/setup.sh"

command -v "$RUNTIME" >/dev/null 2>&1 || die "runtime $RUNTIME not found or not executable"

BUNDLE=$(mktemp -d /tmp/berth-demo.XXXXXX)
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
  "$RUNTIME" delete --force "$ID" >/dev/null 2>&1 || true
  rm -rf --one-file-system "$BUNDLE"
}
trap cleanup EXIT

step "bundle $BUNDLE (rootfs from $ROOTFS)"
cp -a "$ROOTFS" "$BUNDLE/rootfs"
(cd "$BUNDLE" && "$RUNTIME" spec) || die "$RUNTIME spec failed"
[ -f "$BUNDLE/config.json" ] || die "$RUNTIME spec wrote no config.json"

# What the container prints: its hostname and pid (1: its own pid namespace),
# its capability sets and no_new_privs, its open-files limit and, where the
# cgroup v1 pids controller is mounted in the container, the pids limit.
# shellcheck disable=SC2016 # expanded by the container's shell, not this one
SCRIPT='echo hostname: $(hostname); echo pid: $$; cat /proc/self/status | grep -E "^(Cap|NoNewPrivs)"; ulimit -n; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || true'

jq --arg script "$SCRIPT" '
  .process.terminal = false
  | .process.args = ["sh", "-c", $script]
  | .hostname = "berth-demo"
  | .linux.resources.pids = {"limit": 64}
  | .linux.resources.memory = {"limit": 67108864}
' "$BUNDLE/config.json" >"$BUNDLE/config.json.new"
mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"

step "$RUNTIME run --bundle $BUNDLE $ID"
set +e
"$RUNTIME" run --bundle "$BUNDLE" "$ID" </dev/null
status=$?
set -e
step "container $ID exited with status $status"
exit "$status"
