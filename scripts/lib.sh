# lib.sh — what berth's scripts share. Source it after setting LOG_NAME:
#   LOG_NAME=setup; . "$ROOT/scripts/lib.sh"
# step MSG: progress on stderr; die MSG: the error, exit 1;
# quietly CMD...: run CMD with its output kept aside, shown only if it fails.

step() { echo "$LOG_NAME: $*" >&2; }
die() { echo "$LOG_NAME: error: $*" >&2; exit 1; }
quietly() {
  local out rc=0
  out=$(mktemp)
  "$@" >"$out" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || tail -n 40 "$out" >&2
  rm -f "$out"
  return "$rc"
}
