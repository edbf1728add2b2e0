#!/bin/bash
# What a start costs vsd and what it starts, beside RUNNING running VPS:
# the CPU time (task-clock) and page faults of vsd, its builders and the
# inits they clone (a sleep: no boot of the VPS's own is counted), and of
# vsview, which serves the starting VPS's view
# (perf stat attached to vsd and vsview, counting what they fork too),
# over STARTS starts one after another, and each start's wall time. CPU
# time and faults are what other work on a shared host moves least; the
# load average is printed at the start and the end.
#
# Like start.sh: a private vsd (own state root under /tmp, own cgroup name,
# own network namespace), the busybox template, VPS without a network
# (--ipadd none); a trap stops, destroys and removes all of it, also on
# failure or Ctrl-C (DESIGN.md section 7).
#
# Usage: [BUILD=build] contrib/bench/start-cost.sh [RUNNING] [STARTS]
#        (as root; RUNNING 0..4000, default 0; STARTS 1..1000, default 40)
# Needs perf. Figures go to stdout, progress and the clean-up report to stderr.
set -euo pipefail
export LC_ALL=C

prog=start-cost.sh
tag=cost
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"

RUNNING=${1:-0}
STARTS=${2:-40}
case $RUNNING in
0) ;;
*) require_vps_count "$RUNNING" 4000 ;;
esac
require_vps_count "$STARTS" 1000
require_root "sudo contrib/bench/start-cost.sh"
find_binaries
require_tools unshare timeout mktemp awk perf

install_traps

load() { cut -d' ' -f1-3 /proc/loadavg; }

phase="making the private root"
make_root
phase="starting vsd"
start_vsd
VIEW_PID=$(cat "$ROOT/run/paene/vsview.pid")
phase="building the template"
echo "# vsd pid $VSD_PID, vsview $VIEW_PID on $ROOT; $RUNNING running, then $STARTS starts" >&2
timeout 300 "$VSCTL" template build busybox </dev/null >/dev/null

phase="creating and starting $RUNNING VPS"
for ((i = 0; i < RUNNING; i++)); do
        timeout 60 "$VSCTL" create "run$i" --template busybox --ipadd none </dev/null >/dev/null
        timeout 60 "$VSCTL" start "run$i" </dev/null >/dev/null
        if ((i % 500 == 499)); then echo "# $((i + 1)) running" >&2; fi
done
# Their init is busybox's sleep (the config's `init`), not its init: what
# busybox init and rcS do at a first boot (copy-ups in the upper layer, the
# hostname, mounts) is the VPS's work, and much more than the start's.
phase="creating $STARTS VPS"
for ((i = 0; i < STARTS; i++)); do
        timeout 60 "$VSCTL" create "cost$i" --template busybox --ipadd none </dev/null >/dev/null
        echo "init = /bin/sleep 86400" >>"$ROOT/var/lib/paene/vps/cost$i/config"
done

# The timed loop runs under perf stat, which counts vsd and vsview (and
# what they fork) for as long as the loop runs; it is bounded by STARTS.
phase="starting $STARTS VPS under perf stat"
load0=$(load)
export VSCTL STARTS ROOT
# shellcheck disable=SC2016 # expanded by the inner bash
perf stat -x, -e task-clock,page-faults,context-switches -p "$VSD_PID,$VIEW_PID" \
        -o "$ROOT/perf.csv" -- bash -c '
        for ((i = 0; i < STARTS; i++)); do
                t0=${EPOCHREALTIME/[.,]/}
                "$VSCTL" start "cost$i" </dev/null >/dev/null
                t1=${EPOCHREALTIME/[.,]/}
                echo $((t1 - t0))
        done >"$ROOT/starts.us"'
load1=$(load)
running=$("$VSCTL" list -H -o name </dev/null | wc -l)
if [ "$running" -ne $((RUNNING + STARTS)) ]; then
        echo "$prog: $running VPS running, not $((RUNNING + STARTS))" >&2
        exit 1
fi

echo "paene start cost: $STARTS starts beside $RUNNING running (busybox, no network, init: sleep), vsd and vsview counted with what they fork"
echo "machine: nproc $(nproc), kernel $(uname -r); load average $load0 at the start, $load1 at the end"
summary_ms "vsctl start" 12 7.2 <"$ROOT/starts.us"
awk -F, -v n="$STARTS" '
        $3 == "task-clock" { printf "per start: task-clock %.2f ms", $1 / n }
        $3 == "page-faults" { printf ", page faults %.0f", $1 / n }
        $3 == "context-switches" { printf ", context switches %.1f\n", $1 / n }' "$ROOT/perf.csv"

phase="destroying the VPS"
for ((i = 0; i < STARTS; i++)); do
        timeout 60 "$VSCTL" destroy --force "cost$i" </dev/null >/dev/null
done
for ((i = 0; i < RUNNING; i++)); do
        timeout 60 "$VSCTL" destroy --force "run$i" </dev/null >/dev/null
done
phase="stopping vsd"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }
phase="done"
