#!/usr/bin/env bash
# demo.sh — berth's main job, end to end: the engine runs a container.
#
# Sets the machine up (scripts/setup.sh), starts berthd with its embedded
# defaults (socket /run/berth/berth.sock, state in /var/lib/berth, runtime
# state in /run/berth) unless one already answers there, makes an image from
# what this machine has without any network (the busybox rootfs setup builds
# from Debian's busybox-static, imported as berth/busybox:latest), and runs a
# container from it with `berth run` — in its own namespaces, with docker's
# default capabilities and seccomp profile, a memory and a pids limit, on
# berthd's default bridge network. When the docker CLI is installed, it runs
# one more container through it against the same socket.
#
# A berthd this script started is stopped at the end (BERTH_KEEP=1 leaves it
# running). Exits with the container's exit status.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOST=${BERTH_HOST:-unix:///run/berth/berth.sock}
SOCK=${HOST#unix://}
IMAGE=berth/busybox:latest
ROOTFS=$ROOT/.cache/rootfs/busybox
BERTH=$ROOT/bin/berth
export BERTH_HOST=$HOST

LOG_NAME=demo
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[ "$(id -u)" -eq 0 ] || die "run as root (sudo bash scripts/demo.sh)"

bash "$ROOT/scripts/setup.sh"

answers() { [ -S "$SOCK" ] && timeout 5 "$BERTH" version >/dev/null 2>&1; }

STARTED=
LOG=/run/berth/berthd.log
cleanup() {
  if [ -n "$STARTED" ] && [ "${BERTH_KEEP:-}" != 1 ]; then
    step "stopping berthd (pid $STARTED)"
    kill -TERM "$STARTED" 2>/dev/null || true
    wait "$STARTED" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if answers; then
  step "berthd already answers on $SOCK"
else
  mkdir -p /run/berth
  step "starting berthd on $SOCK (log: $LOG)"
  "$ROOT/bin/berthd" -H "$HOST" >>"$LOG" 2>&1 &
  STARTED=$!
  for _ in $(seq 100); do answers && break; kill -0 "$STARTED" 2>/dev/null || { tail -20 "$LOG" >&2; die "berthd exited"; }; sleep 0.1; done
  answers || die "berthd does not answer on $SOCK"
fi

if ! "$BERTH" image inspect "$IMAGE" >/dev/null 2>&1; then
  step "importing $ROOTFS as $IMAGE (no network needed)"
  tar -C "$ROOTFS" -cf - . | "$BERTH" import --change 'CMD ["sh"]' - "$IMAGE" >/dev/null
fi

# What the container prints: who and where it is, as seen from inside.
# shellcheck disable=SC2016 # expanded by the container's shell
SCRIPT='echo "hostname: $(hostname)"; echo "pid: $$"; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; echo "processes visible: $(ls -d /proc/[0-9]* | wc -l)"; echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"; echo "pids limit: $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"; ip -4 -o addr show eth0 2>/dev/null | awk "{print \"address: \" \$4}"'

step "berth run --rm --hostname berth-demo --memory 64m --pids-limit 64 $IMAGE"
set +e
"$BERTH" run --rm --hostname berth-demo --memory 64m --pids-limit 64 "$IMAGE" sh -c "$SCRIPT"
status=$?
set -e
step "container exited with status $status"

if command -v docker >/dev/null 2>&1; then
  step "the docker CLI against berthd: docker -H $HOST run --rm $IMAGE echo ..."
  docker -H "$HOST" run --rm "$IMAGE" echo "hello from a container started by the docker CLI through berthd"
fi
exit "$status"
