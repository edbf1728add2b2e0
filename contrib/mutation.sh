#!/bin/bash
# Mutation check: breaks, one at a time, in a scratch copy of the tree, each
# of the defects the suite must catch, rebuilds, runs the tests that should
# catch it, and prints a table (CAUGHT: a test failed; MISSED: all passed).
# The unmutated copy runs the same tests first: they must pass there.
#
#   contrib/mutation.sh            unit tests only (a few minutes)
#   MUTATION_INTEGRATION=1 contrib/mutation.sh
#                                  also the integration file named for each
#                                  (root; much longer)
#
# Not part of make check. Exits non-zero when a mutation was missed, or one
# could not be applied (its text is no longer in the file: update it here).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/paene-mutation.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
cd "$top" || exit 1
git ls-files | tar -cf - -T - | tar -xf - -C "$scratch" || exit 1
cd "$scratch" || exit 1
BUILD=$scratch/build
export BUILD

# NAME|FILE|FROM|TO|UNIT TESTS|INTEGRATION FILE
# FROM and TO are literal text (one occurrence of FROM must be there); @NL@
# stands for a newline.
MUTATIONS=(
        "start-time field|common/procid.c|#define STARTTIME_AFTER_COMM 20|#define STARTTIME_AFTER_COMM 19|test_procid|test_adopt.sh"
        "bool coercion|protocol/request.c|if (!json_object_is_type(value, json_type_boolean))|if (0)|test_protocol|test_requests.sh"
        "reply size|protocol/protocol.c|return recv_message(sock, VS_REPLY_MAX, 0,|return recv_message(sock, 65536, 0,|test_protocol|test_requests.sh"
        "seccomp entry (keyctl)|sandbox/security.c|        \"keyctl\",@NL@||test_security|escape/test_escape.sh"
        "capability drop|sandbox/security.c|                if (caps->keep & (1ULL << cap))@NL@                        continue;|                if (cap != CAP_NET_RAW)@NL@                        continue;|test_security|escape/test_escape.sh"
        "anti-spoof rule|netns/nft.c|                           \"  ether type ip iifname . ip saddr != @src4 counter drop\n\"@NL@||test_nft|test_netfilter.sh"
        "cgroup limit write (pids.max)|scheduler-limits/limits.c|\"pids.max\", \"%\" PRIu64, l->value[VS_LIM_NUMPROC]|\"pids.max\", \"%\" PRIu64, l->value[VS_LIM_NUMPROC] + 1|test_limits|test_limits.sh"
)

# replace FILE FROM TO: exactly one FROM becomes TO
replace() {
        python3 - "$@" <<'EOF'
import sys
path, old, new = sys.argv[1], sys.argv[2].replace("@NL@", "\n"), sys.argv[3].replace("@NL@", "\n")
text = open(path).read()
if text.count(old) != 1:
    sys.exit("%s: the text to mutate occurs %d times" % (path, text.count(old)))
open(path, "w").write(text.replace(old, new))
EOF
}

build() { make -s all unit >"$scratch/build.log" 2>&1; }

# run_tests UNIT... [-- INTEGRATION]: tests/run.sh's status
run_tests() {
        local files=() t
        for t in $1; do files+=("tests/unit/$t.c"); done
        if [ "${MUTATION_INTEGRATION:-0}" = 1 ] && [ -n "$2" ]; then
                files+=("tests/integration/$2")
        fi
        RAN="${files[*]}"
        tests/run.sh "${files[@]}" >"$scratch/run.log" 2>&1
}

summary() { # the closing line and the first failing case
        local closing first
        closing=$(tail -n 1 "$scratch/run.log")
        first=$(grep -m1 -E '^not ok|^FAILED' "$scratch/run.log")
        echo "$closing${first:+; first: $first}"
}

echo "building the unmutated copy in $scratch"
build || {
        echo "the unmutated copy does not build: $(tail -5 "$scratch/build.log")"
        exit 1
}
bad=0
printf '%-30s %-7s %s\n' MUTATION RESULT "TESTS (closing line; first failure)"
for m in "${MUTATIONS[@]}"; do
        IFS='|' read -r name file from to unit integ <<<"$m"
        if ! run_tests "$unit" "$integ"; then
                printf '%-30s %-7s %s\n' "$name" BROKEN "fails unmutated: $(summary)"
                bad=1
                continue
        fi
        cp "$file" "$scratch/orig"
        if ! replace "$file" "$from" "$to"; then
                printf '%-30s %-7s %s\n' "$name" STALE "mutation not applied"
                bad=1
                continue
        fi
        if ! build; then
                result="CAUGHT"
                detail="the build fails: $(grep -m1 error "$scratch/build.log")"
        elif run_tests "$unit" "$integ"; then
                result="MISSED"
                detail="$RAN: $(summary)"
                bad=1
        else
                result="CAUGHT"
                detail="$RAN: $(summary)"
        fi
        printf '%-30s %-7s %s\n' "$name" "$result" "$detail"
        cp "$scratch/orig" "$file"
        touch "$file"
        build || {
                echo "the restored copy does not build: $(tail -5 "$scratch/build.log")"
                exit 1
        }
done
exit "$bad"
