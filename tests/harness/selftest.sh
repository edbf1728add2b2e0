#!/bin/bash
# The harness's self-test: runs tests/run.sh on the fixtures and checks the
# closing line and exit status of each. Prints "ok NAME"/"not ok NAME" and
# exits non-zero when the harness counted anything wrong.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
BUILD=${BUILD:-build}
fx=tests/harness/fixtures
bad=0
out=""

# expect NAME STATUS CLOSING-LINE [ENV=VALUE...] -- FILE...
expect() {
        local name=$1 want_rc=$2 want_line=$3 rc line
        shift 3
        local envs=()
        while [ "$1" != -- ]; do
                envs+=("$1")
                shift
        done
        shift
        out=$(env "${envs[@]}" tests/run.sh "$@" 2>&1)
        rc=$?
        line=$(tail -n 1 <<<"$out")
        if [ "$line" = "$want_line" ] && { [ "$want_rc" = any ] && [ "$rc" -ne 0 ] || [ "$rc" = "$want_rc" ]; }; then
                echo "ok $name"
        else
                echo "not ok $name: exit $rc, '$line'; expected exit $want_rc, '$want_line'"
                sed 's/^/    | /' <<<"$out"
                bad=1
        fi
}

expect_in_output() { # name text
        if grep -qF -- "$2" <<<"$out"; then
                echo "ok $1"
        else
                echo "not ok $1: '$2' not in the output"
                bad=1
        fi
}

expect skip any "1 passed, 1 failed, 1 skipped" BUILD="$BUILD" -- $fx/skip.sh
expect_in_output "skip shows its reason" "skip b_skips: no widget here"
expect crash any "1 passed, 2 failed, 0 skipped" BUILD="$BUILD" -- $fx/crash.sh
expect_in_output "crash is named" "exit status 137"
mark=$(mktemp -u)
expect timeout any "1 passed, 1 failed, 0 skipped" BUILD="$BUILD" TEST_TIMEOUT=3 FIXTURE_MARK="$mark" \
        -- $fx/timeout.sh
expect_in_output "timeout is named" "timed out"
if [ -e "$mark" ]; then echo "ok teardown runs after a timeout"; else
        echo "not ok teardown runs after a timeout"
        bad=1
fi
rm -f "$mark"
expect stray-ok-line any "1 passed, 1 failed, 0 skipped" BUILD="$BUILD" -- $fx/stray.sh
expect missing-plan any "0 passed, 2 failed, 0 skipped" BUILD="$BUILD" -- $fx/noplan.sh
expect_in_output "missing plan is named" "no plan line"
expect hidden-test any "1 passed, 1 failed, 0 skipped" BUILD="$BUILD" -- $fx/hidden.sh
expect_in_output "plan mismatch is named" "plan 2, but it defines 1 test_"
expect unit-not-built any "0 passed, 1 failed, 0 skipped" BUILD=/nonexistent -- tests/unit/test_parse.c
expect_in_output "missing binary is named" "not built"
expect unit-crash any "1 passed, 2 failed, 0 skipped" -- $fx/tap_crash
expect unit-skip any "1 passed, 1 failed, 1 skipped" -- $fx/tap_skip
expect unit-stderr-glued any "1 passed, 1 failed, 0 skipped" -- $fx/tap_stderr
expect several any "3 passed, 5 failed, 1 skipped" BUILD="$BUILD" -- $fx/skip.sh $fx/crash.sh $fx/tap_crash
expect all-pass 0 "1 passed, 0 failed, 0 skipped" -- tests/harness/fixtures/tap_pass
# a sanitizer report ends a unit binary (make asan-unit's flags and options)
ub=$(mktemp -d)
if ${CC:-cc} -fsanitize=address,undefined -fno-sanitize-recover=all -o "$ub/ub" $fx/ub.c 2>"$ub/cc.log"; then
        expect sanitizer-report any "0 passed, 1 failed, 0 skipped" \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 -- "$ub/ub"
        expect_in_output "the report is shown" "runtime error: signed integer overflow"
else
        echo "not ok sanitizer-report: cannot build the fixture: $(cat "$ub/cc.log")"
        bad=1
fi
rm -rf "$ub"
if [ "$(id -u)" -eq 0 ] && [ -x "$BUILD/vsd" ]; then
        expect leaks any "2 passed, 2 failed, 0 skipped" BUILD="$BUILD" -- $fx/leak.sh
        expect_in_output "a leaked mount is named" "LEAK: $(printf '%s' "/tmp")"
        expect_in_output "a leaked process is named" "LEAK: process in the test netns"
else
        echo "skip leaks: needs root and a built vsd in $BUILD"
fi
# PAENE_TIME_SCALE: wait_for's bound and scaled's result grow by it (a
# condition that never holds, waited for 1 s at scale 3, takes 3 s), and a
# value that is no whole number from 1 is refused, naming it
if [ "$(id -u)" -eq 0 ]; then
        start=$SECONDS
        got=$(PAENE_TIME_SCALE=3 bash -c '. tests/integration/lib.sh && scaled 5 && ! wait_for 1 false' 2>&1)
        took=$((SECONDS - start))
        if [ "$got" = 15 ] && [ "$took" -ge 3 ] && [ "$took" -le 5 ]; then
                echo "ok time scale"
        else
                echo "not ok time scale: scaled 5 said '$got', wait_for 1 took $took s at scale 3"
                bad=1
        fi
        for v in 0 x 1.5 -2; do
                got=$(PAENE_TIME_SCALE=$v bash -c '. tests/integration/lib.sh && echo sourced' 2>&1)
                if [ "$got" = "lib: PAENE_TIME_SCALE '$v' is not a whole number from 1" ]; then
                        echo "ok time scale $v refused"
                else
                        echo "not ok time scale $v refused: '$got'"
                        bad=1
                fi
        done
else
        echo "skip time scale: lib.sh needs root"
fi
exit "$bad"
