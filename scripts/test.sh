#!/usr/bin/env bash
# test.sh — the project's test command (README; CI runs it through .ci/run).
#
#   1. scripts/setup.sh                      (packages, node_modules, native/, rootfs)
#   2. tsc --noEmit -p .                     (type check; a failure counts as 1 failed)
#   3. bun test test/unit                    (no root needed)
#   4. bun test test/integration             (root only; --timeout 60000 per test)
#   5. bun test test/compat                  (root only: podman and containerd on berth-runtime)
#
# Everything is also written to $TEST_LOG (default .cache/test.log). The LAST line
# printed is always "N passed, N failed, N skipped", summed from bun test's own
# summaries (skipped includes todo). The exit status is non-zero when anything
# failed, when bun test crashed or printed no summary (counted as 1 failed), or
# when there were no test files at all.
#
# Environment: TEST_LOG, BERTH_UNIT_TIMEOUT / BERTH_INTEGRATION_TIMEOUT (seconds
# for each whole bun test run, default 900 / 3000; then it is killed and counted
# as failed), BERTH_TEST_TIMEOUT_MS (per integration test, default 60000).
set -uo pipefail
# One ordered stream: progress and bun's output (bun prints its summary on
# stderr) all on stdout, so the count line is the last line in any capture.
exec 2>&1

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

LOG=${TEST_LOG:-$ROOT/.cache/test.log}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

passed=0 failed=0 skipped=0

say() { echo "test.sh: $*" | tee -a "$LOG" >&2; }
finish() {
  local line="$passed passed, $failed failed, $skipped skipped"
  echo "$line" >>"$LOG"
  echo "$line"
  [ "$failed" -eq 0 ] || exit 1
  exit 0
}

# ---------------------------------------------------------------- 1. setup
if ! bash scripts/setup.sh 2>&1 | tee -a "$LOG" >&2; then
  say "setup failed; no tests run"
  failed=1
  finish
fi
BUN=$ROOT/node_modules/.bin/bun

# ---------------------------------------------------------------- 2. type check
say "type check (tsc --noEmit -p .)"
if ! node_modules/.bin/tsc --noEmit -p . 2>&1 | tee -a "$LOG" >&2; then
  say "type check FAILED (counted as 1 failed)"
  failed=$((failed + 1))
fi

# ---------------------------------------------------------------- 3-4. bun test
# Adds the counts of one bun test output file to passed/failed/skipped. bun prints
# its summary (on stderr) as a block after a blank line:
#    12 pass
#    3 skip
#    1 todo
#    0 fail
#    1 error        (only when there were errors outside tests)
#    15 expect() calls
#   Ran 16 tests across 4 files. [1.20s]
# An import error in a test file is reported as a failing test. A run that dies
# (crash, process.exit in a test, killed) prints no "Ran ..." line.
parse_summary() { # file -> "pass fail skip todo error" or nothing
  sed 's/\x1b\[[0-9;]*m//g' "$1" | awk '
    /^[[:space:]]*$/ { delete cur; next }
    /^[[:space:]]*[0-9]+ (pass|fail|skip|todo|error|errors)[[:space:]]*$/ {
      n = $1; k = $2; if (k == "errors") k = "error"; cur[k] = n; next }
    /^Ran [0-9]+ tests? across [0-9]+ files?/ {
      found = 1
      p = cur["pass"] + 0; f = cur["fail"] + 0; s = cur["skip"] + 0
      t = cur["todo"] + 0; e = cur["error"] + 0
    }
    END { if (found) print p, f, s, t, e }'
}

# run_suite NAME DIR TIMEOUT_S [bun test flags...]
run_suite() {
  local name=$1 dir=$2 limit=$3
  shift 3
  if [ -z "$(find "$dir" -name '*.test.ts' -print -quit 2>/dev/null)" ]; then
    say "$name: no *.test.ts files under $dir"
    return 2
  fi
  local out="$WORK/$name.out" rc pid
  say "$name: bun test ${*:+$* }./$dir"
  # Output goes to a file (followed live with tail) rather than a pipe, so a
  # stray process that inherited the pipe cannot keep this script waiting.
  timeout --kill-after=30 "$limit" "$BUN" test "$@" "./$dir" >"$out" 2>&1 </dev/null &
  pid=$!
  tail -n +1 -f --pid="$pid" "$out" >&2
  wait "$pid"
  rc=$?
  cat "$out" >>"$LOG"

  local counts
  counts=$(parse_summary "$out")
  if [ -z "$counts" ]; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      say "$name: bun test did not finish within ${limit}s and was killed (counted as 1 failed)"
    else
      say "$name: bun test exited $rc without a summary: crashed or exited early (counted as 1 failed)"
    fi
    # Count what did get reported before it died.
    passed=$((passed + $(grep -c '^(pass)' "$out")))
    failed=$((failed + $(grep -c '^(fail)' "$out") + 1))
    skipped=$((skipped + $(grep -cE '^\((skip|todo)\)' "$out")))
    return 1
  fi
  local p f s t e
  read -r p f s t e <<<"$counts"
  passed=$((passed + p))
  skipped=$((skipped + s + t))
  failed=$((failed + f))
  if [ "$e" -gt 0 ] && [ "$f" -eq 0 ]; then
    say "$name: $e error(s) outside tests (counted as failed)"
    failed=$((failed + e))
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    say "$name: bun test exited $rc with no failed test (counted as 1 failed)"
    failed=$((failed + 1))
  fi
  say "$name: $p passed, $f failed, $((s + t)) skipped"
  return 0
}

found_any=0
run_suite unit test/unit "${BERTH_UNIT_TIMEOUT:-900}"
[ $? -eq 2 ] || found_any=1

if [ "$(id -u)" -eq 0 ]; then
  run_suite integration test/integration "${BERTH_INTEGRATION_TIMEOUT:-3000}" \
    --timeout "${BERTH_TEST_TIMEOUT_MS:-60000}"
  [ $? -eq 2 ] || found_any=1
  # Real engines (podman, containerd) driving berth-runtime.
  run_suite compat test/compat "${BERTH_COMPAT_TIMEOUT:-1800}" \
    --timeout "${BERTH_TEST_TIMEOUT_MS:-120000}"
  [ $? -eq 2 ] || found_any=1
else
  say "integration, compat: skipped (needs root)"
fi

if [ "$found_any" -eq 0 ]; then
  say "no test files found (test/unit, test/integration: *.test.ts): counted as 1 failed"
  failed=$((failed + 1))
fi

say "log: $LOG"
finish
