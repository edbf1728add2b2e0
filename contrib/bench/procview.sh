#!/bin/bash
# paene /proc view benchmark: what one read of /proc/meminfo and /proc/stat
# costs inside a VPS (through vsview), against the plain /proc and against
# lxcfs in the same run; N VPS reading in parallel; what the view costs per
# VPS. Prints figures only (contrib/bench/README.md says what they mean).
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own
# network namespace) and, for the comparison, lxcfs on a private mount point
# (ended by its pid), its reader in a 256M memory cgroup of its own below
# ours. A trap removes everything on any failure or interruption.
#
# Usage: [BUILD=build] contrib/bench/procview.sh [N [SAMPLES]]   (as root;
# N VPS in parallel, default 100; SAMPLES reads per figure, default 5000)
set -euo pipefail
export LC_ALL=C

prog=procview.sh
N=${1:-100}
SAMPLES=${2:-5000}
case $N$SAMPLES in *[!0-9]*) echo "usage: $prog [N [SAMPLES]]" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 1000 ] || { echo "usage: $prog [N (1..1000) [SAMPLES]]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "$prog: must be run as root" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD ;; *) bin=$repo/$BUILD ;; esac
for b in vsd vsctl vsview payload; do
        [ -x "$bin/$b" ] || { echo "$prog: build first: make all ($bin/$b)" >&2; exit 1; }
done

ROOT=$(mktemp -d /tmp/paene-procview.XXXXXX)
CG=paene-procview-$$
LXCFS_MNT=
LXCFS_PID=
LXCFS_CG=
vs() { "$bin/vsctl" --root "$ROOT" "$@"; }

# our own memory cgroup (v1) or cgroup (v2): the lxcfs reader's goes below it
own_memcg() {
        local line
        line=$(grep -E '^[0-9]+:(memory|):' /proc/self/cgroup | sort -t: -k2 -r | head -1)
        if [ -d /sys/fs/cgroup/memory ]; then
                echo "/sys/fs/cgroup/memory${line##*:}"
        else
                echo "/sys/fs/cgroup${line##*:}"
        fi
}

cleanup() {
        local name pid
        trap - EXIT INT TERM
        if [ -n "$LXCFS_PID" ]; then
                kill "$LXCFS_PID" 2>/dev/null || true
                for _ in $(seq 50); do kill -0 "$LXCFS_PID" 2>/dev/null || break; sleep 0.1; done
        fi
        [ -n "$LXCFS_MNT" ] && { umount -l "$LXCFS_MNT" 2>/dev/null || true; rmdir "$LXCFS_MNT" 2>/dev/null || true; }
        [ -n "$LXCFS_CG" ] && [ -d "$LXCFS_CG" ] && { rmdir "$LXCFS_CG" 2>/dev/null || true; }
        for name in $(vs list -a -H -o name 2>/dev/null); do
                vs destroy --force "$name" >/dev/null 2>&1 || true
        done
        pid=$(cat "$ROOT/run/paene/vsd.pid" 2>/dev/null || true)
        if [ -n "$pid" ]; then
                kill "$pid" 2>/dev/null || true
                for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
        # the view's server outlives vsd by design: end it by its pid
        pid=$(cat "$ROOT/run/paene/vsview.pid" 2>/dev/null || true)
        [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; }
        grep " $ROOT" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r umount -l
        rm -rf "$ROOT"
        grep -q " $ROOT" /proc/self/mountinfo && echo "$prog: a mount is left under $ROOT" >&2
        return 0
}
trap cleanup EXIT INT TERM

line() { # what median p99 fails
        printf '%-34s median %8s  p99 %9s  (us, n=%s, failed reads %s)\n' "$1" "$2" "$3" "$SAMPLES" "$4"
}

# N vsctl exec at once wait their turn at vsd's socket longer than the
# default client_timeout (10 s) on a loaded machine: that is the control
# plane, not the view
mkdir -p "$ROOT/etc/paene"
echo "client_timeout = 300s" >"$ROOT/etc/paene/vsd.conf"
unshare -n "$bin/vsd" --root "$ROOT" --cgroup-name "$CG"
vs template build busybox >/dev/null
echo "paene /proc view benchmark: one open+read+close per sample (static C reader)"
echo "machine: nproc $(nproc), kernel $(uname -r), $(grep -c . /proc/self/cgroup) cgroup lines"
echo "load at start: $(uptime)"

# ---- one reader: the view, the plain /proc, lxcfs ----------------------------
vs create pv0 --template busybox --ipadd none --ram 256M >/dev/null
install -m 0755 "$bin/payload" "$ROOT/var/lib/paene/vps/pv0/upper/payload"
vs create plain0 --template busybox --ipadd none --ram 256M --procview off >/dev/null
install -m 0755 "$bin/payload" "$ROOT/var/lib/paene/vps/plain0/upper/payload"
vs start pv0 >/dev/null
vs start plain0 >/dev/null
# one warm-up run each (not shown): a fresh cgroup's first memory.stat
# reads flush its statistics, slowly
FILES="meminfo stat uptime"
for f in $FILES; do
        vs exec plain0 -- /payload readbench /proc/$f 1000 >/dev/null
        vs exec pv0 -- /payload readbench /proc/$f 1000 >/dev/null
done
for f in $FILES; do
        read -r med p99 fails < <(vs exec plain0 -- /payload readbench /proc/$f "$SAMPLES")
        line "plain /proc/$f (VPS, view off)" "$med" "$p99" "$fails"
        read -r med p99 fails < <(vs exec pv0 -- /payload readbench /proc/$f "$SAMPLES")
        line "view /proc/$f (VPS)" "$med" "$p99" "$fails"
done

if ! command -v lxcfs >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lxcfs >/dev/null
fi
LXCFS_MNT=$(mktemp -d /tmp/paene-lxcfs.XXXXXX)
lxcfs -p "$LXCFS_MNT.pid" "$LXCFS_MNT" >/dev/null 2>&1 &
LXCFS_PID=$!
for _ in $(seq 100); do [ -e "$LXCFS_MNT/proc/meminfo" ] && break; sleep 0.1; done
[ -e "$LXCFS_MNT/proc/meminfo" ] || { echo "$prog: lxcfs did not come up" >&2; exit 1; }
LXCFS_CG=$(own_memcg)/paene-procview-lxcfs-$$
mkdir "$LXCFS_CG"
if [ -e "$LXCFS_CG/memory.limit_in_bytes" ]; then
        echo 268435456 >"$LXCFS_CG/memory.limit_in_bytes"
else
        echo 268435456 >"$LXCFS_CG/memory.max"
fi
for f in $FILES; do
        sh -c 'echo $$ > "$1/cgroup.procs"; exec "$2" readbench "$3" 1000' \
                sh "$LXCFS_CG" "$bin/payload" "$LXCFS_MNT/proc/$f" >/dev/null
        read -r med p99 fails < <(sh -c 'echo $$ > "$1/cgroup.procs"; exec "$2" readbench "$3" "$4"' \
                sh "$LXCFS_CG" "$bin/payload" "$LXCFS_MNT/proc/$f" "$SAMPLES")
        line "lxcfs $(lxcfs --version 2>/dev/null | head -1) /proc/$f" "$med" "$p99" "$fails"
done
grep -q 262144 "$LXCFS_MNT/proc/meminfo" 2>/dev/null ||
        sh -c 'echo $$ > "$1/cgroup.procs"; grep -q "MemTotal: *262144" "$2"' sh "$LXCFS_CG" \
                "$LXCFS_MNT/proc/meminfo" || echo "note: lxcfs did not show the 256M limit"
kill "$LXCFS_PID"
for _ in $(seq 50); do kill -0 "$LXCFS_PID" 2>/dev/null || break; sleep 0.1; done
LXCFS_PID=
umount -l "$LXCFS_MNT" 2>/dev/null || true
rmdir "$LXCFS_MNT"
LXCFS_MNT=
rmdir "$LXCFS_CG"
LXCFS_CG=

# ---- a VPS flooding its view beside a measured one ---------------------------
# The flooder reads its /proc/meminfo from three processes as fast as it can
# and holds 1000 view files open; pv0's reads (and, to tell the view's share
# from the CPUs the flooder takes, plain0's) are measured again meanwhile.
vs create flood0 --template busybox --ipadd none --ram 256M --numfile 4096 >/dev/null
install -m 0755 "$bin/payload" "$ROOT/var/lib/paene/vps/flood0/upper/payload"
vs start flood0 >/dev/null
vs exec flood0 -- sh -c '/payload manyopen /proc/stat 1000 >/dev/null &
        for i in 1 2 3; do /payload readbench /proc/meminfo 100000000 >/dev/null & done; wait' \
        >/dev/null 2>&1 &
FLOOD_PID=$!
sleep 1 # the flood under way (a figure, not a test: no condition to wait for)
read -r vmed vp99 vfails < <(vs exec pv0 -- /payload readbench /proc/meminfo "$SAMPLES")
read -r pmed pp99 pfails < <(vs exec plain0 -- /payload readbench /proc/meminfo "$SAMPLES")
line "view /proc/meminfo, VPS flooding" "$vmed" "$vp99" "$vfails"
line "plain /proc/meminfo, VPS flooding" "$pmed" "$pp99" "$pfails"
vs stop --fast flood0 >/dev/null 2>&1 || true
wait "$FLOOD_PID" 2>/dev/null || true
vs destroy --force flood0 >/dev/null
read -r vmed0 _ _ < <(vs exec pv0 -- /payload readbench /proc/meminfo "$SAMPLES")
read -r pmed0 _ _ < <(vs exec plain0 -- /payload readbench /proc/meminfo "$SAMPLES")
printf 'flood slows the view %.2fx, plain /proc %.2fx (medians against the same reads after it: %s, %s us)\n' \
        "$(echo "$vmed / $vmed0" | bc -l)" "$(echo "$pmed / $pmed0" | bc -l)" "$vmed0" "$pmed0"
vs destroy --force plain0 >/dev/null

# ---- N VPS reading in parallel ----------------------------------------------
server=$(cat "$ROOT/run/paene/vsview.pid")
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_one=$(rss_kb "$server")
fds_one=$(ls "/proc/$server/fd" | wc -l)
# the kernel's FUSE inodes (one per view file read) and dentries are the
# view's own kernel memory; bytes of active objects
fuse_slab() { awk '$1 == "fuse_inode" {print $2 * $4}' /proc/slabinfo; }
slab_before=$(fuse_slab)
for ((i = 1; i < N; i++)); do
        vs create "pv$i" --template busybox --ipadd none --ram 64M >/dev/null
        install -m 0755 "$bin/payload" "$ROOT/var/lib/paene/vps/pv$i/upper/payload"
        vs start "pv$i" >/dev/null
done
# each VPS's view is known to the server once read
for ((i = 0; i < N; i++)); do vs exec "pv$i" -- /payload readbench /proc/meminfo 1 >/dev/null; done
# one reader again, now beside N running VPS
for f in $FILES; do
        read -r med p99 fails < <(vs exec pv0 -- /payload readbench /proc/$f "$SAMPLES")
        line "view /proc/$f, $N VPS running" "$med" "$p99" "$fails"
done
t0=$(cpu_ticks "$server")
w0=$EPOCHREALTIME
outdir=$ROOT/parallel
mkdir "$outdir"
for ((i = 0; i < N; i++)); do
        vs exec "pv$i" -- /payload readbench /proc/meminfo 100 >"$outdir/$i" 2>&1 &
done
failed_jobs=0
for job in $(jobs -p); do wait "$job" || failed_jobs=$((failed_jobs + 1)); done
w1=$EPOCHREALTIME
t1=$(cpu_ticks "$server")
# what a reader that failed said (its vsctl's error), the distinct lines
if [ "$failed_jobs" -gt 0 ]; then
        cat "$outdir"/* | grep -Ev '^[0-9.]+ [0-9.]+ [0-9]+$' | sort | uniq -c | sort -rn | head -5
fi
fails=$(cat "$outdir"/* | awk 'NF == 3 {s += $3} END {print s + 0}')
p99s=$(cat "$outdir"/* | awk '{print $2}' | sort -n | tail -1)
printf '%d VPS x 100 reads of /proc/meminfo in parallel: %.2f s wall, failed reads %s, failed readers %s, worst p99 %s us\n' \
        "$N" "$(echo "$w1 - $w0" | bc)" "$fails" "$failed_jobs" "$p99s"
printf 'vsview: %s ms CPU for those %d reads; RSS %s kB with 1 VPS, %s kB with %d\n' \
        "$(((t1 - t0) * 10))" "$((N * 100))" "$rss_one" "$(rss_kb "$server")" "$N"
fds_n=$(ls "/proc/$server/fd" | wc -l)
[ "$N" -gt 1 ] && printf 'per VPS: vsview RSS %s kB, %s fds (cgroup directories), fuse_inode slab %s kB\n' \
        "$(echo "scale=1; ($(rss_kb "$server") - $rss_one) / ($N - 1)" | bc)" \
        "$(echo "scale=1; ($fds_n - $fds_one) / ($N - 1)" | bc)" \
        "$(echo "scale=1; ($(fuse_slab) - $slab_before) / 1024 / ($N - 1)" | bc)"
# the page cache the reads filled goes 100 ms after (FUSE_NOTIFY_INVAL_INODE)
sleep 0.5
echo "vsview after the reads: $(awk '/^(VmRSS|VmHWM|Threads)/ {printf "%s %s %s  ", $1, $2, $3}' "/proc/$server/status")"
echo "load at end: $(uptime)"
