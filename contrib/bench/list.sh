#!/bin/bash
# paene control-plane benchmark: how long `vsctl list` takes with N VPS.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own network
# namespace), builds the busybox template, creates N VPS (stopped, --ipadd
# none: creating is cheap, and a stopped VPS is listed like a running one),
# then times `vsctl list`, `vsctl list -a`, `vsctl list -a --json` and
# `vsctl list -a -o name,state,ip`, 10 runs each, from just before the client
# is exec'd to just after it exits (what an admin's script pays), and prints
# the median and the largest, with the reply's size. A trap removes
# everything on any failure or interruption (DESIGN.md section 7).
#
# LIST_BIG_FILES=M adds a VPS "big" of M small files in its own layer
# (the dir backend counts them for its disk figure) and times `status
# big`, `list -a -o name,disk`, and `vsctl list` while a loop of `list -a
# -o name,disk` runs beside it: what one VPS of many files costs everybody.
#
# Usage: [BUILD=build] [LIST_BIG_FILES=M] contrib/bench/list.sh [N]   (as root; N defaults to 4096)
set -euo pipefail
export LC_ALL=C

prog=list.sh
tag=list
. "$(dirname "$0")/../lib.sh"
N=${1:-4096}
require_vps_count "$N" 60000
require_root "sudo contrib/bench/list.sh"
find_binaries
require_tools unshare mktemp awk sort
vs() { "$VSCTL" --root "$ROOT" "$@"; }
make_root
install_traps
phase="starting vsd"
start_vsd
vs template build busybox >/dev/null
t0=$EPOCHREALTIME
for ((i = 0; i < N; i++)); do
        vs create "v$i" --template busybox --ipadd none
done
t1=$EPOCHREALTIME

# time_cmd ARGS...: 10 runs of vsctl ARGS; prints "median max" in ms and the
# size of the output
time_cmd() {
        local i a b bytes
        bytes=$(vs "$@" | wc -c)
        for ((i = 0; i < 10; i++)); do
                a=$EPOCHREALTIME
                vs "$@" >/dev/null
                b=$EPOCHREALTIME
                echo "$a $b" | awk '{printf "%.3f\n", ($2 - $1) * 1000}'
        done | sort -n | awk -v bytes="$bytes" '{v[NR] = $1}
                END {printf "median %8.1f  max %8.1f ms  (output %d bytes)\n", (v[5] + v[6]) / 2, v[NR], bytes}'
}

echo "paene vsctl list, N=$N VPS (stopped), busybox template"
echo "machine: nproc $(nproc), kernel $(uname -r)"
echo "create: $(echo "$t0 $t1" | awk -v n="$N" '{printf "%.2f ms per VPS", ($2 - $1) * 1000 / n}')"
echo "listed: $(vs list -a -H -o name | wc -l) of $N"
printf '%-36s %s\n' "vsctl list" "$(time_cmd list)"
printf '%-36s %s\n' "vsctl list -a" "$(time_cmd list -a)"
printf '%-36s %s\n' "vsctl list -a -o name,state,ip" "$(time_cmd list -a -o name,state,ip)"
printf '%-36s %s\n' "vsctl list -a --json" "$(time_cmd list -a --json)"
printf '%-36s %s\n' "vsctl status v0" "$(time_cmd status v0)"
if [ -n "${LIST_BIG_FILES:-}" ]; then
        vs create big --template busybox --ipadd none
        python3 -c 'import os, sys
d = sys.argv[1]
os.makedirs(d)
for i in range(int(sys.argv[2])):
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("x")' "$ROOT/var/lib/paene/vps/big/upper/data" "$LIST_BIG_FILES"
        sync
        echo "VPS big: $LIST_BIG_FILES files in its layer"
        printf '%-36s %s\n' "vsctl status big --json" "$(time_cmd status big --json)"
        printf '%-36s %s\n' "vsctl list -a -o name,disk" "$(time_cmd list -a -o name,disk)"
        (while :; do vs list -a -o name,disk >/dev/null; done) &
        disk_loop=$!
        printf '%-36s %s\n' "vsctl list, beside that loop" "$(time_cmd list)"
        kill "$disk_loop"
        wait "$disk_loop" 2>/dev/null || :
        vs destroy big
fi
for ((i = 0; i < N; i++)); do vs destroy "v$i"; done
finish
