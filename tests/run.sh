#!/bin/bash
# Runs every unit test (cmocka) and every integration test file, and ends
# with one line "N passed, N failed". Exits non-zero when anything failed.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
passed=0
failed=0
skipped=0
failures=()

count_cmocka() { # $1 = log file, $2 = binary's exit status
        local p f
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -n 1)
        p=${p:-0}
        f=${f:-0}
        if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed before its summary
        passed=$((passed + p))
        failed=$((failed + f))
        [ "$f" -eq 0 ] || failures+=("$3")
}

echo "== unit tests"
for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        log=$(mktemp)
        "$t" >"$log" 2>&1
        rc=$?
        cat "$log"
        count_cmocka "$log" "$rc" "$(basename "$t")"
        rm -f "$log"
done

echo "== integration tests"
if [ "$(id -u)" -ne 0 ]; then
        echo "integration tests need root: counted as failed"
        failed=$((failed + 1))
        failures+=("integration (not root)")
else
        for t in tests/integration/test_*.sh tests/integration/*/test_*.sh; do
                log=$(mktemp)
                BUILD="$BUILD" timeout 900 bash "$t" 2>&1 | tee "$log"
                rc=${PIPESTATUS[0]}
                p=$(grep -c '^ok ' "$log")
                f=$(grep -c '^not ok ' "$log")
                skipped=$((skipped + $(grep -c '^skip ' "$log")))
                if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
                passed=$((passed + p))
                failed=$((failed + f))
                [ "$f" -eq 0 ] || failures+=("$(basename "$t")")
                rm -f "$log"
        done
fi

if [ "${#failures[@]}" -gt 0 ]; then
        echo "failing: ${failures[*]}"
fi
[ "$skipped" -eq 0 ] || echo "$skipped skipped (not counted as passed; see their reasons above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
