#!/bin/bash
# paene bench: where `vsctl stop --fast` and `vsctl destroy` of a routed
# busybox VPS with a network spend their time, with N other VPS running.
#
#   sudo contrib/bench/stop.sh N [K]    (N other VPS, 0..4096; K timed, 6)
#
# Starts a private vsd in its own network namespace (contrib/lib.sh), creates
# and starts N+2K VPS, then stops (--fast) and destroys K of them one by
# one and prints each time, and the medians; then the other K with one
# `vsctl stop --fast` and one `vsctl destroy` naming them all, per VPS.
# STOP_STRACE=FILE runs the first stop and destroy under `strace -f -T -tt`
# of vsd into FILE (its times are then not counted): read the phases off it
# (the init's exit is the gap between pidfd_send_signal and waitid).
# STOP_PERF=FILE runs every pair of the first K under `perf trace` of vsd
# (lighter than strace; their times are counted, and slower for it);
# STOP_SCHED=FILE under a system-wide `perf record` of the scheduler's
# events and CPU samples (every 250 us) with call chains, for
# stop-offcpu.py (what the stops wait for off the CPU, what ran while they
# waited for one); STOP_RECORD=FILE under `perf record` of vsd (where its CPU time goes;
# STOP_RECORD_CG=dwarf for call chains through code without frame pointers).
# The root's run/ is a tmpfs, as /run is on a host (vsd's run/paene: its
# socket, the /proc view's registrations, reboot marks); STOP_RUN_ON_DISK=1
# leaves it on the root's file system (the runs before 2026-12-07 14:00).
# Beside the wall-clock times it prints the CPU time vsd's process spent
# (its schedstat: user and system, the syscalls' kernel work included) per
# stop, per destroy (what vsd does after a stop's answer falls in the
# destroy's window) and per pair, and that of its helpers (the link reaper,
# the remover, the releaser) per pair; the kernel's own workers (the
# network namespace's cleanup) are not in it. Since a stop's state file and
# nftables removal wait for an idle moment (runtime/later.c), which may come
# after a pair's window, it also prints vsd's CPU over all the timed pairs
# and that work, which a `vsctl status` (with N=0 a template list) after
# the last pair makes vsd do (per pair; with STOP_STRACE the traced pair is
# in it).
set -euo pipefail
export LC_ALL=C

prog=stop.sh
tag=stopbench
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"

usage() { echo "usage: $prog N [K]   (N: number of other VPS running, 0..4096; K: how many are timed, 1..1000, 6)" >&2; exit 2; }
N=${1:-}
case $N in '' | *[!0-9]*) usage ;; esac
[ "$N" -le 4096 ] || usage
K=${2:-6}
case $K in '' | *[!0-9]*) usage ;; esac
[ "$K" -ge 1 ] && [ "$K" -le 1000 ] || usage
require_root "sudo contrib/bench/stop.sh $N"
[ -n "${EPOCHREALTIME:-}" ] || { echo "$prog: needs bash 5 or later" >&2; exit 1; }
find_binaries
require_tools unshare nsenter timeout mktemp awk sort pgrep stat
install_traps


phase="making the private root"
make_root
mkdir -p "$ROOT/etc/paene" "$ROOT/run"
if [ "${STOP_RUN_ON_DISK:-0}" != 1 ]; then
        mount -t tmpfs -o mode=0755,size=64m "stopbench-run" "$ROOT/run"
fi
printf 'network_mode = routed\npool4 = 10.200.0.0/16\n' >"$ROOT/etc/paene/vsd.conf"
phase="starting vsd"
start_vsd
phase="building the template"
timeout 300 "$VSCTL" template build busybox </dev/null >/dev/null
phase="starting $((N + 2 * K)) VPS"
for ((i = 0; i < N + 2 * K; i++)); do
        "$VSCTL" create "s$i" --template busybox </dev/null >/dev/null
        "$VSCTL" start "s$i" </dev/null >/dev/null
done

# cpu_ns PID: the CPU time PID has run, in ns, in REPLY (0 when gone)
cpu_ns() { REPLY=0; read -r REPLY _ <"/proc/$1/schedstat" 2>/dev/null || REPLY=0; }
# helpers_ns: the CPU time of vsd's helper processes, in ns, in REPLY
helpers_ns() {
        local f st total=0
        for f in /proc/[0-9]*/stat; do
                { read -r st <"$f"; } 2>/dev/null || continue
                case $st in *"(vsd-reaper) "* | *"(vsd-trash) "* | *"(vsd-release) "*) ;; *) continue ;; esac
                st=${st##*) }
                st=${st#* } # state
                [ "${st%% *}" = "$VSD_PID" ] || continue
                f=${f%/stat}
                cpu_ns "${f#/proc/}"
                total=$((total + REPLY))
        done
        REPLY=$total
}

phase="stopping and destroying"
stops=() destroys=() cpu_stops=() cpu_destroys=() cpu_pairs=()
helpers_ns; h0=$REPLY
cpu_ns "$VSD_PID"; call0=$REPLY
pp=
if [ -n "${STOP_PERF:-}" ]; then
        perf trace -p "$VSD_PID" -o "$STOP_PERF" 2>/dev/null &
        pp=$!
        sleep 1 # perf needs a moment to attach; not a measurement
elif [ -n "${STOP_SCHED:-}" ]; then
        perf record -a -g -k CLOCK_MONOTONIC -e cpu-clock -c 250000 -e sched:sched_switch -e sched:sched_wakeup \
                -e sched:sched_process_exec -e sched:sched_process_exit -o "$STOP_SCHED" 2>/dev/null &
        pp=$!
        sleep 1 # perf needs a moment to attach; not a measurement
elif [ -n "${STOP_RECORD:-}" ]; then
        perf record --call-graph "${STOP_RECORD_CG:-fp}" -p "$VSD_PID" -o "$STOP_RECORD" 2>/dev/null &
        pp=$!
        sleep 1 # perf needs a moment to attach; not a measurement
fi
for ((i = 0; i < K; i++)); do
        sp=
        if [ "$i" -eq 0 ] && [ -n "${STOP_STRACE:-}" ]; then
                strace -f -T -tt -p "$VSD_PID" -o "$STOP_STRACE" 2>/dev/null &
                sp=$!
                sleep 1 # strace needs a moment to attach; not a measurement
        fi
        cpu_ns "$VSD_PID"; c0=$REPLY
        now_us; t0=$REPLY
        "$VSCTL" stop --fast "s$i" </dev/null
        now_us; t1=$REPLY
        cpu_ns "$VSD_PID"; c1=$REPLY
        "$VSCTL" destroy "s$i" </dev/null
        now_us; t2=$REPLY
        cpu_ns "$VSD_PID"; c2=$REPLY
        printf 's%d: stop %.2f ms, destroy %.2f ms%s\n' "$i" "$(((t1 - t0) / 10))e-2" \
                "$(((t2 - t1) / 10))e-2" "${sp:+ (traced)}"
        if [ -n "$sp" ]; then
                kill -INT "$sp" 2>/dev/null || true
                wait "$sp" 2>/dev/null || true
                continue
        fi
        stops+=($((t1 - t0))) destroys+=($((t2 - t1)))
        cpu_stops+=($(((c1 - c0) / 1000))) cpu_destroys+=($(((c2 - c1) / 1000)))
        cpu_pairs+=($(((c2 - c0) / 1000)))
done
# the work that waited for an idle moment, done before a status's answer
if [ "$N" -gt 0 ]; then
        "$VSCTL" status "s$((2 * K))" </dev/null >/dev/null
else
        "$VSCTL" template list </dev/null >/dev/null
fi
# and the releaser's letting go of the stopped VPS's roots, which that work
# asks for (it runs in the releaser, whose CPU is counted below): up to 5 s
roots_held() {
        local f n=0 pid
        pid=$(pgrep -P "$VSD_PID" -x vsd-release) || { REPLY=0; return; }
        for f in /proc/"$pid"/fd/*; do
                [ "$(stat -f -L -c %T "$f" 2>/dev/null)" = overlayfs ] && n=$((n + 1))
        done
        REPLY=$n
}
for ((i = 0; i < 500; i++)); do
        roots_held
        [ "$REPLY" = 0 ] && break
        sleep 0.01 # polling the releaser's descriptors, not a measurement
done
cpu_ns "$VSD_PID"; call1=$REPLY
helpers_ns; h1=$REPLY
if [ -n "$pp" ]; then
        kill -INT "$pp" 2>/dev/null || true
        wait "$pp" 2>/dev/null || true
fi
# the other K in one command each: what a VPS costs without a vsctl of its own
batch=()
for ((i = K; i < 2 * K; i++)); do batch+=("s$i"); done
now_us; t0=$REPLY
"$VSCTL" stop --fast "${batch[@]}" </dev/null >/dev/null
now_us; t1=$REPLY
"$VSCTL" destroy "${batch[@]}" </dev/null >/dev/null
now_us; t2=$REPLY
printf 'N=%d: one command for %d VPS: stop --fast %.2f ms, destroy %.2f ms per VPS\n' "$N" "$K" \
        "$(((t1 - t0) / K / 10))e-2" "$(((t2 - t1) / K / 10))e-2"
printf 'N=%d: stop --fast median %s ms, destroy median %s ms, load %s\n' "$N" \
        "$(printf '%s\n' "${stops[@]}" | median_ms)" "$(printf '%s\n' "${destroys[@]}" | median_ms)" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'N=%d: vsd CPU median: stop %s ms, destroy %s ms, pair %s ms; its helpers %.3f ms per pair\n' "$N" \
        "$(printf '%s\n' "${cpu_stops[@]}" | median_ms)" "$(printf '%s\n' "${cpu_destroys[@]}" | median_ms)" \
        "$(printf '%s\n' "${cpu_pairs[@]}" | median_ms)" "$(((h1 - h0) / (${#stops[@]} ? ${#stops[@]} : 1) / 1000))e-3"
printf 'N=%d: vsd CPU over the %d pairs and their waiting work (one status after): %.3f ms per pair\n' \
        "$N" "$K" "$(((call1 - call0) / K / 1000))e-3"
finish
