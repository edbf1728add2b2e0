#!/bin/bash
# paene snapshot benchmark: what a snapshot of a running VPS with SIZE MB of
# its own files costs (vsctl snapshot: the time, of which the VPS is frozen
# for the second pass over what it changed during the copy; the disk it
# takes), a backup of it (the same copy, then tar of it while the VPS
# runs: its longest pause as a ticker inside sees it), beside a clone of the running VPS (the
# same freeze-and-copy path into a new VPS) and a snapshot restore of the
# stopped one. The copy is copy_file_range's: on XFS or btrfs a reflink
# (extents shared, no data written), on ext4 a copy of the data in the
# kernel; the file system of the state root is printed with the figures.
# DISK=image puts the VPS on a disk image (--diskspace SIZE+512 MB): its
# image is copied running in a migration's rounds, then the VPS frozen (its
# cgroup and FIFREEZE of its file system) for the blocks that changed.
#
# Starts a private vsd (own state root, default under /tmp, own cgroup name,
# own network namespace); a trap cleans up on any failure or interruption.
#
# Usage: [BUILD=build] [STATE_DIR=/mnt/xfs] [DISK=image] contrib/bench/snapshot.sh [SIZE_MB]
#        (as root; SIZE_MB default 1024; STATE_DIR: where the state root is
#        made, to measure another file system)
set -euo pipefail
export LC_ALL=C

prog=snapshot.sh
tag=snapshot
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

SIZE=${1:-1024}
case $SIZE in '' | *[!0-9]* | 0*) echo "usage: $prog [SIZE_MB]" >&2; exit 2 ;; esac
DISK=${DISK:-dir}
case $DISK in
dir) disk_opts=() ;;
image) disk_opts=(--diskspace "$((SIZE + 512))M") ;;
*) echo "$prog: DISK is dir or image, not '$DISK'" >&2; exit 2 ;;
esac
require_root "sudo contrib/bench/snapshot.sh"
find_binaries
require_tools unshare awk du stat
vs() { "$VSCTL" "$@"; }
install_traps

ms_of() { # START END
        echo "$1 $2" | awk '{printf "%.0f", ($2 - $1) * 1000}'
}

make_root
if [ -n "${STATE_DIR:-}" ]; then
        rmdir "$ROOT"
        ROOT=$(mktemp -d "$STATE_DIR/paene-$tag.XXXXXX")
        export VS_ROOT=$ROOT
fi
phase="start vsd"
start_vsd
vs template build busybox >/dev/null
vs create b1 --template busybox --ipadd none "${disk_opts[@]}"
vs start b1
phase="write $SIZE MB"
vs exec b1 -- sh -c "mkdir /data && i=0; while [ \$i -lt $((SIZE / 64)) ]; do head -c 67108864 /dev/urandom >/data/f\$i; i=\$((i + 1)); done; sync"
# an image is mounted inside the VPS alone: its files are read there
layer_kb=$(vs exec b1 -- du -sk /data | cut -f1)
free0=$(df -k --output=avail "$ROOT" | tail -1)

phase="snapshot"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$EPOCHREALTIME
snap_out=$(vs snapshot b1 s1)
t1=$EPOCHREALTIME
frozen_ms=$(echo "$snap_out" | sed -n 's/.*(frozen \([0-9]*\) ms).*/\1/p')
free1=$(df -k --output=avail "$ROOT" | tail -1)
phase="backup"
# a ticker inside logs its clock (/proc/uptime, 10 ms steps): the longest
# gap between two ticks during the backup is the VPS's longest pause, beside
# the longest in 3 s before it (what the machine's load alone makes)
ticker=$(vs exec b1 -- sh -c 'while :; do cut -d" " -f1 /proc/uptime >>/root/ticks; done >/dev/null 2>&1 & echo $!')
sleep 3
vs exec b1 -- sh -c 'echo B >>/root/ticks'
t6=$EPOCHREALTIME
vs backup b1 "$ROOT/b1.tar.zst"
t7=$EPOCHREALTIME
vs exec b1 -- sh -c "echo E >>/root/ticks; kill $ticker"
gaps() { # FROM TO: the longest gap, in ms, between the marks
        awk -v from="$1" -v to="$2" '$1 == from { on = 1; p = ""; next } $1 == to { on = 0 }
                on && p != "" && $1 - p > g { g = $1 - p } on { p = $1 } END { printf "%.0f", g * 1000 }' "$ROOT/ticks"
}
vs exec b1 -- cat /root/ticks >"$ROOT/ticks"
gap_ms=$(gaps B E)
idle_gap_ms=$(awk '$1 == "B" { exit } p != "" && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%.0f", g * 1000 }' "$ROOT/ticks")
rm -f "$ROOT/b1.tar.zst"
vs exec b1 -- rm -f /root/ticks
phase="snapshot while written"
# a writer inside rewrites 64 MB over and over: the second pass copies the
# files it changed during the first, with the VPS frozen
writer=$(vs exec b1 -- sh -c 'while :; do head -c 67108864 /dev/zero >/data/busy; done >/dev/null 2>&1 & echo $!')
t8=$EPOCHREALTIME
busy_out=$(vs snapshot b1 s2)
t9=$EPOCHREALTIME
busy_ms=$(echo "$busy_out" | sed -n 's/.*(frozen \([0-9]*\) ms).*/\1/p')
vs exec b1 -- kill "$writer"
vs snapshot delete b1 s2 >/dev/null
phase="clone"
t2=$EPOCHREALTIME
vs clone b1 b2 >/dev/null
t3=$EPOCHREALTIME
vs stop b1
phase="restore"
t4=$EPOCHREALTIME
vs snapshot restore b1 s1 >/dev/null
t5=$EPOCHREALTIME

echo "paene snapshot of a running VPS with $((layer_kb / 1024)) MB of own files (disk backend: $DISK)"
echo "machine: nproc $(nproc), kernel $(uname -r), state root on $(stat -f -c %T "$ROOT") ($(df --output=source "$ROOT" | tail -1))"
echo "load before: $load0"
echo "vsctl snapshot:                             $(ms_of "$t0" "$t1") ms, of which the VPS frozen ${frozen_ms:-?} ms; disk taken $(((free0 - free1) / 1024)) MB"
echo "the same, a writer rewriting 64 MB inside:   $(ms_of "$t8" "$t9") ms, of which frozen ${busy_ms:-?} ms"
echo "vsctl backup of the running VPS:            $(ms_of "$t6" "$t7") ms, its longest pause seen inside ${gap_ms} ms (${idle_gap_ms} ms in 3 s before it)"
echo "vsctl clone of the running VPS (same path): $(ms_of "$t2" "$t3") ms"
echo "vsctl snapshot restore (stopped VPS):       $(ms_of "$t4" "$t5") ms"
vs destroy --force b1
vs destroy --force b2
phase=cleanup
stop_vsd
phase=done
