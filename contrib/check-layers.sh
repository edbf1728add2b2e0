#!/bin/bash
# The layers of paene's tree, lowest first (docs/ARCHITECTURE.md): a file may
# include the headers of its own directory and of lower layers only, and a
# layer's directories do not include each other. JSON is the protocol
# layer's: json-c (directly, or through vs/protocol.h or runtime/serve.h)
# only in protocol/, oci/, vsctl and the daemon's serving files. Prints each
# offending include; exits 1 when there is one.
set -u
cd "$(dirname "$0")/.." || exit 1

# header (include/vs/NAME.h) -> directory that implements it
declare -A owner=(
        [cleanup]=common [error]=common [fdpass]=common [fsutil]=common [kvfile]=common
        [log]=common [parse]=common [procid]=common [blocksum]=common [nameidx]=common
        [cowfs]=cow-fs [diskquota]=cow-fs [netns]=netns
        [admission]=scheduler-limits [cgroup]=scheduler-limits [limits]=scheduler-limits
        [procview]=scheduler-limits
        [security]=sandbox [spawn]=sandbox [initsig]=sandbox [protocol]=protocol [reply]=protocol
)
declare -A layer=(
        [common]=0 [cow-fs]=1 [netns]=1 [scheduler-limits]=1 [sandbox]=2 [protocol]=3 [runtime]=4
        [runtime/vsctl]=4 [oci]=4
)

# The daemon's files that speak the protocol to clients (runtime/serve.h):
# the loop's client I/O, the requests, long work, the events. Every other
# module of vsd (vsd.h) fills plain structs (vs/reply.h) instead.
declare -A json_ok=(
        [runtime/vsd.c]=1 [runtime/clients.c]=1 [runtime/handlers.c]=1 [runtime/work.c]=1 [runtime/events.c]=1
        [runtime/serve.h]=1 [runtime/authz.c]=1 [runtime/authz.h]=1
        [runtime/slicetimecmd.c]=1
        [runtime/slicecmd.c]=1 [runtime/slicecmd.h]=1 [runtime/sliceloan.c]=1
)
# Serving files that still build or read JSON themselves, until their
# replies move to protocol/ (a builder in protocol/replies.c, declared in
# vs/protocol.h; a request's args through vs_req_*): a new file of requests
# may wait here for that step, named with the reason.
declare -A json_todo=()

bad=0
check_json() { # $1 = file, $2 = its directory
        local inc
        case $2 in protocol | oci) return ;; esac
        [ -n "${json_ok[$1]:-}${json_todo[$1]:-}" ] && return
        case $1 in runtime/vsctl/*) return ;; esac
        while read -r inc; do
                echo "$1: $inc: only the protocol layer builds and reads JSON (vs/reply.h's structs for the lifecycle; see json_todo in $0)"
                bad=1
        done < <(grep -oE '#include ([<]json-c/[a-z_]*\.h[>]|"vs/protocol\.h"|"serve\.h")' "$1")
}

# The serving files pass protocol-made objects on (send, free); they build
# and read none themselves: that is protocol/'s (reply.c, replies.c, args.c).
check_json_calls() { # $1 = file
        local call
        case $1 in runtime/vsctl*) return ;; esac
        [ -n "${json_todo[$1]:-}" ] && return
        while read -r call; do
                echo "$1: $call: JSON is built and read in protocol/ (a builder in protocol/replies.c; see json_todo in $0)"
                bad=1
        done < <(grep -noE 'json_(object_(new_[a-z0-9_]*|object_add|array_add|get_[a-z0-9_]*|array_get_idx|object_get_ex|object_foreach)|tokener_[a-z_]*)' "$1")
}

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

# Cleanup attributes and small functions, not goto ladders (DESIGN.md's
# error contract).
check_goto() {
        local hits
        hits=$(grep -n '\bgoto\b' "$1" | grep -v '^[0-9]*: *\(/\*\|\*\)') || return 0
        printf '%s: goto (use the cleanup attributes and a function of its own):\n%s\n' "$1" "$hits"
        bad=1
}

for dir in "${!layer[@]}"; do
        for f in "$dir"/*.[ch] "$dir"/*/*.[ch]; do
                [ -e "$f" ] || continue
                check "$f" "$dir"
                check_goto "$f"
                check_json "$f" "$dir"
                [ "$dir" = runtime ] && check_json_calls "$f"
        done
done
for h in include/vs/*.h; do
        name=$(basename "$h" .h)
        to=${owner[$name]:-}
        [ -n "$to" ] || { echo "$h: no layer owns it (add it to $0)"; bad=1; continue; }
        check "$h" "$to"
        check_json "$h" "$to"
done
[ "$bad" -eq 0 ] && echo "layers: every include goes down; JSON only in the protocol layer and its users"
exit "$bad"
