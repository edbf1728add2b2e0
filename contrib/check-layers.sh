#!/bin/bash
# The layers of paene's tree, lowest first (docs/ARCHITECTURE.md): a file may
# include the headers of its own directory and of lower layers only, and a
# layer's directories do not include each other. Prints each offending
# include; exits 1 when there is one.
set -u
cd "$(dirname "$0")/.." || exit 1

# header (include/vs/NAME.h) -> directory that implements it
declare -A owner=(
        [cleanup]=common [error]=common [fdpass]=common [fsutil]=common [kvfile]=common
        [log]=common [parse]=common [procid]=common
        [cowfs]=cow-fs [diskquota]=cow-fs [netns]=netns
        [admission]=scheduler-limits [cgroup]=scheduler-limits [limits]=scheduler-limits
        [procview]=scheduler-limits
        [security]=sandbox [spawn]=sandbox [initsig]=sandbox [protocol]=protocol
)
declare -A layer=(
        [common]=0 [cow-fs]=1 [netns]=1 [scheduler-limits]=1 [sandbox]=2 [protocol]=3 [runtime]=4
        [oci]=4
)

bad=0
check() { # $1 = file, $2 = its directory
        local inc name to
        while read -r inc; do
                name=${inc#*vs/}
                name=${name%.h*}
                to=${owner[$name]:-}
                if [ -z "$to" ]; then
                        echo "$1: includes vs/$name.h, which no layer owns (add it to $0)"
                        bad=1
                elif [ "$to" != "$2" ] && [ "${layer[$to]}" -ge "${layer[$2]}" ]; then
                        echo "$1: $2 (layer ${layer[$2]}) includes vs/$name.h of $to (layer ${layer[$to]})"
                        bad=1
                fi
        done < <(grep -o '#include "vs/[a-z0-9_]*\.h"' "$1")
}

for dir in "${!layer[@]}"; do
        for f in "$dir"/*.[ch] "$dir"/*/*.[ch]; do
                [ -e "$f" ] && check "$f" "$dir"
        done
done
for h in include/vs/*.h; do
        name=$(basename "$h" .h)
        to=${owner[$name]:-}
        [ -n "$to" ] || { echo "$h: no layer owns it (add it to $0)"; bad=1; continue; }
        check "$h" "$to"
done
[ "$bad" -eq 0 ] && echo "layers: every include goes down"
exit "$bad"
