# shellcheck shell=bash
# The test runner every integration test file uses (lib.sh sources it; the
# harness's own fixtures in tests/harness/ source it alone). A file defines
# functions named test_* and calls run_tests, which
#   - prints "plan N", N being the number of test_* functions;
#   - runs each in a subshell under errexit and pipefail, in name order;
#   - prints one of "ok NAME", "not ok NAME" or "skip NAME: reason" for each;
#   - between tests calls the hook reset_after_test NAME (lib.sh's destroys
#     what the test made, checks that nothing leaked and restarts vsd):
#     when it fails, the test is "not ok" whatever it returned.
# Hooks (no-ops here; define them after sourcing): suite_setup,
# suite_teardown, reset_after_test, and before_each, which a test file
# defines for what every one of its tests needs (the VPS they share): it
# runs in the test's subshell, under errexit, before the test function; a
# failure there fails the test. Result lines also go to the file $PAENE_RESULTS when it
# is set (tests/run.sh counts those, never a test's own output).

# The exit status of a test that called skip.
SKIP_STATUS=77

# (define your own after sourcing this file)
suite_setup() { :; }
suite_teardown() { :; }
reset_after_test() { :; }
before_each() { :; }

# skip REASON: ends the running test, which is reported as skipped. Call it
# from the test function itself (in a $(...) or a pipeline it only ends that
# subshell).
skip() {
        [ -n "${PAENE_SKIP_FILE:-}" ] || {
                echo "skip called outside a test: $*" >&2
                exit 1
        }
        printf '%s\n' "${*:-no reason given}" >"$PAENE_SKIP_FILE"
        exit "$SKIP_STATUS"
}

result() {
        echo "$1"
        if [ -n "${PAENE_RESULTS:-}" ]; then
                echo "$1" >>"$PAENE_RESULTS"
        fi
}

# The test functions this file defines, in name order. PAENE_TESTS, an
# extended regex, keeps only those it matches: for running a file by hand
# in a slow place (the pure cgroup v2 VM); tests/run.sh counts such a file
# short of its plan.
list_test_functions() {
        # PAENE_TESTS: an extended regex; only the tests it matches run (for
        # slow places, such as the pure cgroup v2 VM)
        declare -F | awk '{print $3}' | grep '^test_' | grep -E -- "${PAENE_TESTS:-.}" | LC_ALL=C sort
}

# The ERR trap of a test: names the line of the test file where the failing
# command (or the helper that failed) was, once, and only for the test's own
# shell (not a $(...) or a background job's).
report_error() { # command status
        local i where=""
        [ "$BASHPID" = "$TEST_SHELL" ] && [ -z "${ERROR_REPORTED:-}" ] || return 0
        ERROR_REPORTED=1
        for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
                if [ "${BASH_SOURCE[i]}" = "$0" ]; then
                        where="${0##*/}:${BASH_LINENO[i - 1]}"
                        break
                fi
        done
        case "$1" in
        return*) echo "    FAIL: $where" >&2 ;; # a helper said why above
        *) echo "    FAIL: $where: '$1' exited $2" >&2 ;;
        esac
}

run_one_test() { # function-name
        local t=$1 rc reason start=$EPOCHREALTIME
        PAENE_SKIP_FILE=$(mktemp "${TMPDIR:-/tmp}/paene-skip.XXXXXX")
        # not in a || list: that would switch errexit off inside
        (
                set -e -o pipefail
                # the command that ended the test, once (errexit says nothing)
                set -E
                TEST_SHELL=$BASHPID
                trap 'report_error "$BASH_COMMAND" "$?"' ERR
                before_each
                "$t"
        )
        rc=$?
        reason=$(cat "$PAENE_SKIP_FILE")
        rm -f "$PAENE_SKIP_FILE"
        PAENE_SKIP_FILE=""
        if ! reset_after_test "${t#test_}"; then
                echo "    FAIL: ${t#test_}: left something behind (see above)" >&2
                rc=1
        fi
        if [ "$rc" -eq "$SKIP_STATUS" ] && [ -n "$reason" ]; then
                result "skip ${t#test_}: $reason"
        elif [ "$rc" -eq 0 ]; then
                result "ok ${t#test_}"
        else
                result "not ok ${t#test_}"
        fi
        # where a slow file's time goes (not a result line: the harness
        # counts $PAENE_RESULTS only)
        awk -v a="$start" -v b="$EPOCHREALTIME" -v n="${t#test_}" \
                'BEGIN { if (b - a >= 5) printf "    # %s took %.1f s\n", n, b - a }'
}

run_tests() {
        local t names
        names=$(list_test_functions)
        result "plan $(printf '%s' "$names" | grep -c .)"
        # a TERM (tests/run.sh's timeout) or INT ends the file through its
        # EXIT trap, which cleans up
        trap 'suite_teardown || exit 1' EXIT
        trap 'exit 143' TERM
        trap 'exit 130' INT
        if ! suite_setup; then
                echo "setup failed: no test ran" >&2
                exit 1
        fi
        for t in $names; do
                run_one_test "$t"
        done
}
