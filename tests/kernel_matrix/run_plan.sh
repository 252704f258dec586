#!/bin/bash
# Runs every test of a plan (one script per ctest test, written by plan.py)
# on the running kernel, one at a time, and records for each its output
# (<name>.log), exit status (<name>.rc), seconds taken (<name>.secs) and the
# kernel it ran on. The same runner serves the guest and the host.
# Usage: run_plan.sh PLAN_DIR RESULTS_DIR
set -u
plan=$1
out=$2
mkdir -p "$out"
uname -r >"$out/kernel"
total=$(find "$plan" -name '*.sh' | wc -l)
n=0
failed=0
for script in "$plan"/*.sh; do
  [ -e "$script" ] || continue
  n=$((n + 1))
  name=$(basename "$script" .sh)
  name=${name#*-}  # drop the order prefix
  timeout_s=$(sed -n 's/^# timeout: //p' "$script")
  work=$(mktemp -d /tmp/kmatrix-run.XXXXXX)
  start=$SECONDS
  (cd "$work" && exec timeout -k 10 "${timeout_s:-600}" bash "$script") >"$out/$name.log" 2>&1 </dev/null
  rc=$?
  secs=$((SECONDS - start))
  rm -rf "$work"
  echo "$rc" >"$out/$name.rc"
  echo "$secs" >"$out/$name.secs"
  if [ "$rc" = 0 ]; then
    verdict=ok
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    verdict="TIMEOUT after ${timeout_s:-600}s"
    failed=$((failed + 1))
  else
    verdict="FAILED (exit $rc)"
    failed=$((failed + 1))
  fi
  printf '[%d/%d] %-45s %s (%ds)\n' "$n" "$total" "$name" "$verdict" "$secs"
done
[ "$failed" = 0 ]
