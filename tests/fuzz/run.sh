#!/bin/bash
# Runs libFuzzer targets for a given time each on their seed corpus:
#   tests/fuzz/run.sh SECONDS TARGET...
# New inputs go to $FUZZ_WORK/TARGET (default $FUZZ_BUILD/corpus), never to
# the committed seeds; a finding is saved as $FUZZ_WORK/crash-TARGET-*.
# Prints "ok fuzz_TARGET: N executions in S s" or "not ok ..." per target
# and exits non-zero when a target found something.
set -u
seconds=${1:?usage: run.sh SECONDS TARGET...}
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
case $FUZZ_BUILD in /*) ;; *) FUZZ_BUILD=$top/$FUZZ_BUILD ;; esac
work=${FUZZ_WORK:-$FUZZ_BUILD/corpus}
failed=0
total=0

for target in "$@"; do
        bin=$FUZZ_BUILD/fuzz_$target
        seeds=$top/tests/fuzz/corpus/$target
        log=$work/$target.log
        mkdir -p "$work/$target" || exit 1
        if [ ! -x "$bin" ]; then
                echo "not ok fuzz_$target: $bin is not built (make fuzz-build)"
                failed=1
                continue
        fi
        dict=()
        [ -f "$top/tests/fuzz/$target.dict" ] && dict=(-dict="$top/tests/fuzz/$target.dict")
        "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
                "${dict[@]}" -artifact_prefix="$work/crash-$target-" "$work/$target" "$seeds" \
                >"$log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)$/\1/p' "$log" | tail -n 1)
        if [ "$rc" -ne 0 ] || [ -z "$runs" ]; then
                echo "not ok fuzz_$target: libFuzzer exit $rc; the end of $log:"
                grep -E '^(finding|==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5
                tail -n 5 "$log"
                failed=1
                continue
        fi
        total=$((total + runs))
        echo "ok fuzz_$target: $runs executions in ${seconds} s, no finding"
done
echo "# fuzz: $total executions in all"
exit "$failed"
