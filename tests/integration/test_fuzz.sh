#!/bin/bash
# make check's share of the fuzzing: each libFuzzer target of tests/fuzz/
# runs a few seconds on its seed corpus (tests/fuzz/corpus/TARGET); a crash,
# a sanitizer report or a broken check of the target is "not ok". The long
# runs are `make fuzz FUZZ_SECONDS=N` (tests/fuzz/README.md).
set -u
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECONDS_EACH=${FUZZ_CHECK_SECONDS:-4}

work=$(mktemp -d /tmp/paene-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
targets=()
for src in "$TOP"/tests/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        targets+=("${name#fuzz_}")
done
FUZZ_BUILD=$BUILD/fuzz FUZZ_WORK=$work nice -n 10 "$TOP/tests/fuzz/run.sh" "$SECONDS_EACH" \
        "${targets[@]}"
