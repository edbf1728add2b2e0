#!/bin/bash
# Runs every unit test (cmocka, TAP output) and every integration test file,
# and ends with one line "N passed, N failed, N skipped". Exits non-zero when
# anything failed.
#
#   tests/run.sh [--unit | --integration] [FILE...]
#
# FILEs: tests/unit/test_*.c (its binary in $BUILD/tests), an executable
# that prints TAP, or an integration file (*.sh); by default all of them.
# Each file's plan is checked: a unit binary's "1..N" (cmocka's array) and
# an integration file's "plan N", which must equal the number of test_*
# functions the file defines (found here by grep). A case that never
# reports is a failure; so is a missing binary, a file without a plan, a
# crash, a timeout ($TEST_TIMEOUT seconds a file, 900 by default, times
# PAENE_TIME_SCALE: see tests/README.md), a result
# for a name the file does not define, and a non-zero exit (the harness's
# leak checks end a file so). Only the harness's result lines count (the
# file $PAENE_RESULTS), never what a test prints. Each file's wall time
# follows its output, and the 15 slowest precede the closing line.
# See tests/README.md.
set -u
BUILD=${BUILD:-build}
TEST_TIMEOUT=${TEST_TIMEOUT:-$((900 * ${PAENE_TIME_SCALE:-1}))}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
passed=0
failed=0
skipped=0
failures=()
times=() # "SECONDS NAME" a file, for the summary of the slowest
work=$(mktemp -d "${TMPDIR:-/tmp}/paene-run.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# file_failed NAME WHY: the file failed as a whole; one failure is counted
# when none of its cases was.
file_failed() {
        echo "FAILED $1: $2"
        failures+=("$1")
}

# tally NAME PASS FAIL SKIP PROBLEMS: adds a file's counts.
tally() {
        passed=$((passed + $2))
        failed=$((failed + $3))
        skipped=$((skipped + $4))
        if [ -n "$5" ]; then
                [ "$3" -gt 0 ] || failed=$((failed + 1))
                file_failed "$1" "$5"
        elif [ "$3" -gt 0 ]; then
                failures+=("$1")
        fi
}

exit_problem() { # status
        case "$1" in
        0) ;;
        124) echo "timed out after ${TEST_TIMEOUT}s; " ;;
        137) echo "exit status 137 (killed: a crash, or no exit 30s after the timeout); " ;;
        *) echo "exit status $1; " ;;
        esac
}

# run_bounded OUT ERR command...: the TAP on stdout apart from what the
# binary says on stderr (a message without its newline would glue itself to
# the next result line)
run_bounded() {
        local out=$1 err=$2
        shift 2
        timeout -k 30 "$TEST_TIMEOUT" "$@" >"$out" 2>"$err"
}

# A cmocka binary (or any TAP producer): "1..N", "ok K - name",
# "not ok K - name", "not ok K # SKIP name".
run_unit() { # name binary
        local name=$1 bin=$2 log=$work/unit.log errlog=$work/unit.err rc plan p f s seen problems=""
        if [ ! -x "$bin" ]; then
                tally "$name" 0 0 0 "not built: $bin"
                return
        fi
        CMOCKA_MESSAGE_OUTPUT=tap run_bounded "$log" "$errlog" "$bin"
        rc=$?
        cat "$log"
        sed 's/^/    /' "$errlog"
        plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$log")
        s=$(grep -cE '^(not )?ok [0-9]+ # SKIP' "$log")
        p=$(grep -E '^ok [0-9]+' "$log" | grep -vc ' # SKIP')
        f=$(grep -E '^not ok [0-9]+' "$log" | grep -vc ' # SKIP')
        seen=$((p + f + s))
        problems=$(exit_problem "$rc")
        if [ -z "$plan" ] || [ "$(grep -c '^1\.\.' "$log")" -ne 1 ]; then
                problems+="no plan (1..N) line; "
        elif [ "$seen" -lt "$plan" ]; then
                problems+="$((plan - seen)) of $plan cases never reported; "
                f=$((f + plan - seen))
        elif [ "$seen" -gt "$plan" ]; then
                problems+="$seen results for a plan of $plan; "
        fi
        # a failed case makes cmocka exit non-zero: that is no file problem
        [ "$rc" -ne 1 ] || [ "$f" -eq 0 ] || problems=${problems/exit status 1; /}
        tally "$name" "$p" "$f" "$s" "$problems"
}

# The test functions a file defines, without their test_ prefix, sorted.
declared_tests() {
        sed -nE 's/^[[:space:]]*(function[[:space:]]+)?test_([A-Za-z0-9_]+)[[:space:]]*\(\).*/\2/p' "$1" |
                LC_ALL=C sort
}

run_integration() { # file
        local t=$1 name results=$work/results rc declared nplan
        local p=0 f=0 s=0 problems="" line kind case_name seen=" "
        name=${t#tests/}
        : >"$results"
        declared=$(declared_tests "$t")
        PAENE_RESULTS=$results BUILD="$BUILD" TEST_TIMEOUT="$TEST_TIMEOUT" \
                timeout -k 30 "$TEST_TIMEOUT" bash "$t" 2>&1
        rc=$?
        problems=$(exit_problem "$rc")
        nplan=$(sed -n 's/^plan \([0-9][0-9]*\)$/\1/p' "$results")
        if [ -z "$nplan" ] || [ "$(grep -c '^plan ' "$results")" -ne 1 ]; then
                problems+="no plan line (does it end with run_tests?); "
        elif [ "$nplan" -ne "$(grep -c . <<<"$declared")" ]; then
                problems+="plan $nplan, but it defines $(grep -c . <<<"$declared") test_ functions; "
        fi
        while IFS= read -r line; do
                case "$line" in
                "plan "*) continue ;;
                "ok "*) kind=ok case_name=${line#ok } ;;
                "not ok "*) kind=fail case_name=${line#not ok } ;;
                "skip "*:\ ?*)
                        kind=skip case_name=${line#skip }
                        case_name=${case_name%%:*}
                        ;;
                *)
                        problems+="unknown result line '$line'; "
                        continue
                        ;;
                esac
                if ! grep -qxF -- "$case_name" <<<"$declared"; then
                        problems+="result for '$case_name', which it does not define; "
                        continue
                fi
                case "$seen" in *" $case_name "*)
                        problems+="'$case_name' reported twice; "
                        continue
                        ;;
                esac
                seen+="$case_name "
                case "$kind" in
                ok) p=$((p + 1)) ;;
                fail) f=$((f + 1)) ;;
                skip) s=$((s + 1)) ;;
                esac
        done <"$results"
        local missing
        missing=$(($(grep -c . <<<"$declared") - p - f - s))
        if [ "$missing" -gt 0 ]; then
                problems+="$missing cases never reported; "
                f=$((f + missing))
        fi
        # a file exits 0 whatever its tests did: any other status is a problem
        tally "$name" "$p" "$f" "$s" "$problems"
}

mode=all
case "${1:-}" in
--unit | --integration)
        mode=${1#--}
        shift
        ;;
esac

if [ "$#" -gt 0 ]; then
        files=("$@")
else
        files=()
        [ "$mode" = integration ] || files+=(tests/unit/test_*.c)
        [ "$mode" = unit ] || files+=(tests/integration/test_*.sh tests/integration/*/test_*.sh)
        if [ "$mode" != unit ] && [ "$(id -u)" -ne 0 ]; then
                echo "integration tests need root"
                tally "integration (not root)" 0 0 0 "not run as root"
                files=(tests/unit/test_*.c)
        fi
fi

# elapsed START: the seconds since START (an $EPOCHREALTIME), to 0.1 s
elapsed() {
        local now=$EPOCHREALTIME
        awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

for t in "${files[@]}"; do
        start=$EPOCHREALTIME
        case "$t" in
        *.c)
                b=$(basename "$t" .c)
                echo "== unit $b"
                run_unit "$b" "$BUILD/tests/$b"
                ;;
        *.sh)
                echo "== integration ${t#tests/}"
                run_integration "$t"
                ;;
        *)
                echo "== tap $t"
                run_unit "$t" "$t"
                ;;
        esac
        took=$(elapsed "$start")
        echo "-- ${t#tests/}: ${took} s"
        times+=("$took ${t#tests/}")
done

# where the time went (CI logs): the 15 slowest files
if [ "${#times[@]}" -gt 1 ]; then
        echo "slowest files (wall seconds):"
        printf '%s\n' "${times[@]}" | sort -rn | head -n 15 | sed 's/^/    /'
fi

if [ "${#failures[@]}" -gt 0 ]; then
        echo "failing: ${failures[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
