#!/bin/bash
# paene control-plane benchmark: what a create, a start and a `set
# --port-forward` cost vsd when N other VPS exist (issue 13: the control
# plane flat). Work that looks at every other VPS's files shows here as
# syscalls that grow with N.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own
# network namespace, routed mode with a /16 pool), builds the busybox
# template and creates N stopped VPS, each with an address and one port
# forward (host port 20000+i), so that the id range, address and forward
# checks have N of each to compare with. Then, with strace -c attached to
# vsd (its own syscalls, not its builders'), K more creates (with a
# forward), K starts, K `set --port-forward` and K stops; and without
# strace, K more creates timed and vsd's CPU time for them (from
# /proc/PID/schedstat, which the load moves less than the wall clock). Prints
# syscalls per operation (all, and the file look-ups: openat, newfstatat,
# statx, fstat, read; socket) and the ms per create. A trap removes everything on
# any failure or interruption (DESIGN.md section 7).
#
# Usage: [BUILD=build] contrib/bench/scan.sh [N [K]]   (as root; N defaults to 1000, K to 20)
set -euo pipefail
export LC_ALL=C

prog=scan.sh
tag=scan
. "$(dirname "$0")/../lib.sh"
N=${1:-1000}
K=${2:-20}
require_vps_count "$N" 8192
require_vps_count "$K" 200
require_root "sudo contrib/bench/scan.sh"
find_binaries
require_tools unshare mktemp awk strace
vs() { "$VSCTL" --root "$ROOT" "$@" </dev/null; }
install_traps
private_vsd_with_busybox $'network_mode = routed\npool4 = 10.200.0.0/16'
echo "paene control plane beside N=$N VPS (routed, one forward each), K=$K, busybox"
echo "machine: nproc $(nproc), kernel $(uname -r), vsd $VSD, load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
phase="creating $N VPS"
for ((i = 0; i < N; i++)); do
        vs create "v$i" --template busybox --port-forward "$((20000 + i)):80" >/dev/null
done

# strace_of WHAT CMD...: runs CMD with strace -c on vsd; prints one line
# of syscalls per operation (K operations)
strace_of() {
        local what=$1 out pid i
        shift
        out=$ROOT/strace.$what
        strace -c -U calls,name -S calls -p "$VSD_PID" -o "$out" 2>/dev/null &
        pid=$!
        for ((i = 0; i < 50; i++)); do # until attached: vsd shows a tracer
                [ "$(awk '/^TracerPid/ {print $2}' "/proc/$VSD_PID/status")" != 0 ] && break
                sleep 0.1
        done
        "$@"
        kill -INT "$pid"
        wait "$pid" || :
        awk -v k="$K" -v what="$what" '
                $2 ~ /^(openat|newfstatat|statx|fstat|read|socket)$/ {f[$2] = $1}
                $2 == "total" {t = $1}
                END {printf "%-22s %7.1f syscalls  openat %6.1f  newfstatat %6.1f  statx %5.1f  fstat %5.1f  read %6.1f  socket %4.1f\n",
                        what, t / k, f["openat"] / k, f["newfstatat"] / k, f["statx"] / k, f["fstat"] / k, f["read"] / k, f["socket"] / k}' "$out"
}
creates() { for ((i = 0; i < K; i++)); do vs create "s$i" --template busybox --port-forward "$((30000 + i)):80" >/dev/null; done; }
starts() { for ((i = 0; i < K; i++)); do vs start "s$i" >/dev/null; done; }
sets() { for ((i = 0; i < K; i++)); do vs set "s$i" --port-forward "$((40000 + i)):81" >/dev/null; done; }
stops() { for ((i = 0; i < K; i++)); do vs stop --fast "s$i" >/dev/null; done; }
phase="measuring"
strace_of "create, per VPS" creates
strace_of "start, per VPS" starts
strace_of "set --port-forward" sets
strace_of "stop --fast" stops

cpu_ns() { awk '{print $1}' "/proc/$VSD_PID/schedstat"; } # time on a CPU, ns
c0=$(cpu_ns)
t0=$EPOCHREALTIME
for ((i = 0; i < K; i++)); do vs create "t$i" --template busybox --ipadd none >/dev/null; done
t1=$EPOCHREALTIME
c1=$(cpu_ns)
echo "$t0 $t1 $c0 $c1" | awk -v k="$K" \
        '{printf "create (--ipadd none), timed: %.2f ms per VPS wall, vsd CPU %.3f ms per VPS\n", ($2 - $1) * 1000 / k, ($4 - $3) / 1e6 / k}'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
finish
