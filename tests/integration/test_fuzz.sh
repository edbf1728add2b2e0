#!/bin/bash
# make check's share of the fuzzing: each libFuzzer target of tests/fuzz/
# runs a few seconds on its seed corpus (tests/fuzz/corpus/TARGET); a crash,
# a sanitizer report or a broken check of the target fails its test. The
# long runs are `make fuzz FUZZ_SECONDS=N` (tests/fuzz/README.md). No vsd:
# the harness's runner alone.
set -u
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECONDS_EACH=${FUZZ_CHECK_SECONDS:-4}
. "$TOP/tests/integration/runner.sh"

# One target, in a work directory of its own (its corpus grows there).
fuzz_target() {
        local work rc=0
        work=$(mktemp -d /tmp/paene-fuzz.XXXXXX)
        FUZZ_BUILD=$BUILD/fuzz FUZZ_WORK=$work nice -n 10 "$TOP/tests/fuzz/run.sh" \
                "$SECONDS_EACH" "$1" || rc=$?
        rm -rf "$work"
        return "$rc"
}

test_backup() { fuzz_target backup; }
test_caps() { fuzz_target caps; }
test_kvfile() { fuzz_target kvfile; }
test_net() { fuzz_target net; }
test_oci_config() { fuzz_target oci_config; }
test_parse() { fuzz_target parse; }
test_procid() { fuzz_target procid; }
test_request() { fuzz_target request; }
test_vsdconf() { fuzz_target vsdconf; }

# every target of tests/fuzz/ has its test here
test_every_target_is_run() {
        local src name
        for src in "$TOP"/tests/fuzz/fuzz_*.c; do
                name=$(basename "$src" .c)
                declare -F "test_${name#fuzz_}" >/dev/null || {
                        echo "    FAIL: tests/fuzz/$name.c has no test here" >&2
                        return 1
                }
        done
}

run_tests
