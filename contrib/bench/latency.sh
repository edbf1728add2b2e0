#!/bin/bash
# paene control-plane latency under long work: how long `vsctl list` takes
# while vsd imports a 200 MB template, clones a VPS of 20000 small files and
# builds a template.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own network
# namespace), builds the busybox template, creates 100 VPS (so that list has
# something to say), and prepares the work: a tar of the busybox root with
# 200 MB of random data, a VPS with 20000 small files in its upper layer.
# Then, for each long request, it starts it in the background and times
# `vsctl list -a` one after another until the request has answered (each
# from just before the client is exec'd to just after it exits), and prints
# the median, the largest and how many lists ran, beside the same figures
# with vsd idle. A trap removes everything on any failure or interruption
# (DESIGN.md section 7).
#
# Usage: [BUILD=build] contrib/bench/latency.sh   (as root)
set -euo pipefail
export LC_ALL=C

prog=latency.sh
tag=latency
. "$(dirname "$0")/../lib.sh"
require_root "sudo contrib/bench/latency.sh"
find_binaries
require_tools unshare mktemp awk sort
vs() { "$VSCTL" --root "$ROOT" "$@"; }
work_pid=
# the measured client may still run when a step fails: it goes first
stop_work() {
        local rc=$?
        set +e
        [ -z "$work_pid" ] || kill "$work_pid" 2>/dev/null
        (exit "$rc")
        cleanup
}
make_root
install_traps
trap stop_work EXIT
phase="starting vsd"
start_vsd
vs template build busybox >/dev/null
for ((i = 0; i < 100; i++)); do vs create "v$i" --template busybox --ipadd none; done

# the work: a 200 MB archive, a VPS of 20000 small files
mkdir "$ROOT/src"
cp -a "$ROOT/var/lib/paene/templates/busybox/rootfs/." "$ROOT/src/"
head -c $((200 << 20)) /dev/urandom >"$ROOT/src/big"
tar --numeric-owner -C "$ROOT/src" -cf "$ROOT/big.tar" .
rm -rf "$ROOT/src"
vs create many --template busybox --ipadd none
python3 - "$ROOT/var/lib/paene/vps/many/upper/data" <<'PY'
import os, sys
os.makedirs(sys.argv[1])
for i in range(20000):
    with open(os.path.join(sys.argv[1], "f%d" % i), "w") as f:
        f.write("small file %d\n" % i)
PY
sync

# lists_during CMD...: times `vsctl list -a` until CMD (a vsctl request run
# in the background) ends, at least once; prints "median max n" in ms
lists_during() {
        local a b rc=0
        vs "$@" >/dev/null &
        work_pid=$!
        while :; do
                a=$EPOCHREALTIME
                vs list -a >/dev/null
                b=$EPOCHREALTIME
                echo "$a $b" | awk '{printf "%.3f\n", ($2 - $1) * 1000}'
                kill -0 "$work_pid" 2>/dev/null || break
        done >"$ROOT/times"
        wait "$work_pid" || rc=$?
        work_pid=
        [ "$rc" -eq 0 ] || { echo "$prog: vsctl $* failed ($rc)" >&2; exit 1; }
        sort -n "$ROOT/times" | awk '{v[NR] = $1}
                END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                     printf "median %7.1f  max %7.1f ms  (%d lists)\n", m, v[NR], NR}'
}

idle() {
        local a b
        for ((i = 0; i < 20; i++)); do
                a=$EPOCHREALTIME
                vs list -a >/dev/null
                b=$EPOCHREALTIME
                echo "$a $b" | awk '{printf "%.3f\n", ($2 - $1) * 1000}'
        done | sort -n | awk '{v[NR] = $1}
                END {printf "median %7.1f  max %7.1f ms  (%d lists)\n", (v[10] + v[11]) / 2, v[NR], NR}'
}

echo "paene vsctl list -a (101 VPS) while vsd does long work"
echo "machine: nproc $(nproc), kernel $(uname -r)"
printf '%-40s %s\n' "idle" "$(idle)"
printf '%-40s %s\n' "template import of 200 MB" "$(lists_during template import big "$ROOT/big.tar")"
printf '%-40s %s\n' "clone of 20000 small files" "$(lists_during clone many many2)"
printf '%-40s %s\n' "template build busybox" "$(lists_during template build busybox bb2)"
printf '%-40s %s\n' "template unify" "$(lists_during template unify)"
finish
