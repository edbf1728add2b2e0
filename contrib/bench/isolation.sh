#!/bin/bash
# paene isolation benchmark, after the Vserver paper's experiment (a game
# server beside 9 CPU-hog VPS): round trips to a UDP echo server in one VPS,
# alone, then with neighbours that hog the CPU, fork-bomb, hog memory or
# write to disk, each neighbour under its limits.
#
# The client runs outside the VPS, in vsd's network namespace (where the
# host's side of each veth is), and reaches the echo server on the VPS's own
# address over its veth, as a player's packets would; one more neighbour
# floods UDP out of its VPS at its rate cap (--rate-out 10M).
#
# Runs on the integration test harness (tests/integration/lib.sh): a private
# vsd, state root, cgroup name and network namespace, all removed at exit.
#
# Usage: [BUILD=build] contrib/bench/isolation.sh [REQUESTS]   (as root;
# REQUESTS per scenario, default 1000, 2 ms apart). Figures go to stdout.
#
# EEVDF time slices (Linux 6.12+), "default": the kernel's:
#   ISOLATION_TIMESLICE      the echo VPS's --timeslice (0.1ms, as an admin
#                            gives a game server; default before 6.12)
#   ISOLATION_TIMESLICE_ALL  every neighbour VPS's --timeslice as well
#   ISOLATION_ECHO_CPUUNITS  the echo VPS's --cpuunits (default: vsd's, 1024)
#   ISOLATION_CLIENT_US      the client's own slice in µs (build/schedslice,
#                            `make build/schedslice`): it stands for a
#                            machine of its own, which vsd does not start
#
# ISOLATION_HOGS_ONLY=1: only "alone" and the 9 CPU hogs (quicker, to
# alternate variants of the scheduling settings in one run).
#
# ISOLATION_TRACE=DIR: the 9-hog scenario's requests run under tracesched.sh
# (scheduler and network events, in a private mount namespace) and DIR gets
# the trace, the client's per-request log and isotrace.py's account of each
# request over 0.5 ms (where its time went: the echo server's wakeup, the
# client's, the softirq, who ran meanwhile) and, with bpftrace, isowake.py's
# account of the echo server's wakeups (preempt.bt: eligibility, deadlines,
# the running entity's slice protection).
set -u
REQUESTS=${1:-1000}
case $REQUESTS in
'' | *[!0-9]* | 0*) echo "usage: isolation.sh [REQUESTS]   (1..100000)" >&2; exit 2 ;;
esac
[ "$REQUESTS" -le 100000 ] || { echo "usage: isolation.sh [REQUESTS]   (1..100000)" >&2; exit 2; }
. "$(dirname "$0")/../../tests/integration/lib.sh"
. "$(dirname "$0")/../../tests/integration/netlib.sh"

# ISOLATION_SHARES=N: the whole run (this script, its vsd and VPS, the
# client) in a v1 cpu cgroup of its own beneath ours with cpu.shares N, so
# that on a machine shared with other sessions their processes weigh little
# against it: what a quiet host would give, roughly (removed at exit)
SHIELD=
if [ -n "${ISOLATION_SHARES:-}" ]; then
        cpu_dir=/sys/fs/cgroup/cpu$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' /proc/self/cgroup)
        SHIELD=${cpu_dir%/}/paene-iso-$$
        [ -e "$cpu_dir/cpu.shares" ] || die "ISOLATION_SHARES: no v1 cpu.shares in $cpu_dir"
        mkdir "$SHIELD" && echo "$ISOLATION_SHARES" >"$SHIELD/cpu.shares" &&
                echo $$ >"$SHIELD/cgroup.procs" || die "ISOLATION_SHARES: cannot make $SHIELD"
fi
shield_off() {
        [ -n "$SHIELD" ] || return 0
        echo $$ >"$(dirname "$SHIELD")/cgroup.procs"
        rmdir "$SHIELD" || echo "isolation: $SHIELD left" >&2
}
trap 'teardown; shield_off' EXIT
setup

if kernel_at_least 6 12; then SLICE=${ISOLATION_TIMESLICE:-0.1ms}; else SLICE=${ISOLATION_TIMESLICE:-default}; fi
SLICE_ALL=${ISOLATION_TIMESLICE_ALL:-default}
CLIENT_US=${ISOLATION_CLIENT_US:-0}
CLIENT=()
if [ "$CLIENT_US" != 0 ]; then
        [ -x "$BUILD/schedslice" ] || die "no $BUILD/schedslice: make $BUILD/schedslice"
        CLIENT=("$BUILD/schedslice" "$CLIENT_US" --)
fi

GAP_MS=2
# how long a neighbour's load must last to cover one scenario's requests
# (traced: bpftrace's start and the trace's copy as well)
LOAD_S=$((REQUESTS * (GAP_MS + 1) / 1000 + 5))
[ -z "${ISOLATION_TRACE:-}" ] || LOAD_S=$((LOAD_S + 15))

make_vps() { # name options...
        local name=$1
        shift
        vs create "$name" --template busybox --timeslice "$SLICE_ALL" "$@" >/dev/null
        vs start "$name"
        install_payload "$name"
}

TRACE_DIR=${ISOLATION_TRACE:-}
if [ -n "$TRACE_DIR" ]; then
        mkdir -p "$TRACE_DIR" || die "cannot make $TRACE_DIR"
        TRACE_DIR=$(cd "$TRACE_DIR" && pwd)
fi

# The echo server's host pid (udpecho in echo0's cgroup).
echo_pid() {
        local pid
        for pid in $(vps_procs echo0); do
                tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'udpecho' && echo "$pid"
        done | head -1
}

# scenario NAME [trace]: one line of figures for REQUESTS round trips; with
# "trace" (and ISOLATION_TRACE) traced, and each slow request accounted for
scenario() {
        local out
        if [ "${2:-}" = trace ] && [ -n "$TRACE_DIR" ]; then
                # with bpftrace: the entities of the echo server and the client at each wakeup
                local bpf=()
                command -v bpftrace >/dev/null &&
                        bpf=(--bpf "$TOP/contrib/bench/preempt.bt" "$TRACE_DIR/wakeups.txt" "$(echo_pid)")
                "$TOP/contrib/bench/tracesched.sh" "$TRACE_DIR/trace.txt" "${bpf[@]}" -- \
                        nsenter --net="$R/netns" "${CLIENT[@]}" "$BIN/payload" udpping "$ECHO_ADDR:7777" \
                        "$REQUESTS" "$GAP_MS" "$TRACE_DIR/requests.log" >"$TRACE_DIR/udpping.out" ||
                        die "traced client failed"
                out=$(cat "$TRACE_DIR/udpping.out")
                python3 "$TOP/contrib/bench/isotrace.py" "$TRACE_DIR/trace.txt" "$TRACE_DIR/requests.log" \
                        "$(echo_pid)" "$(cat "$TRACE_DIR/trace.txt.pid")" >"$TRACE_DIR/report.txt"
                [ ! -s "$TRACE_DIR/wakeups.txt" ] ||
                        python3 "$TOP/contrib/bench/isowake.py" "$TRACE_DIR/trace.txt" \
                                "$TRACE_DIR/wakeups.txt" "$(echo_pid)" >>"$TRACE_DIR/report.txt"
        else
                out=$(in_host "${CLIENT[@]}" "$BIN/payload" udpping "$ECHO_ADDR:7777" "$REQUESTS" "$GAP_MS")
        fi
        # "sent N lost L median_us P p99_us Q max_us M"
        # the load average as the scenario ends: on a shared machine the
        # neighbours of the run count as much as those of the VPS
        echo "$out" | awk -v s="$1" -v l="$(cut -d' ' -f1 /proc/loadavg)" '{printf "%-26s median %6.3f  p99 %6.3f  max %7.3f ms  lost %d of %d  load %s\n",
                s, $6 / 1000, $8 / 1000, $10 / 1000, $4, $2, l}'
}

# all_loaded NAME...: each named VPS runs its load beside its init
all_loaded() {
        local table v
        table=$(vs list -H -o name,nproc)
        for v in "$@"; do
                echo "$table" | awk -v n="$v" '$1 == n && $2 >= 2 {ok = 1} END {exit !ok}' || return 1
        done
}

# Waits (bounded) until the named VPS run their load.
loaded() {
        wait_for 60 "all_loaded $*" || die "the load in $* did not start"
}

ECHO_OPTS=(--timeslice "$SLICE")
[ -z "${ISOLATION_ECHO_CPUUNITS:-}" ] || ECHO_OPTS+=(--cpuunits "$ISOLATION_ECHO_CPUUNITS")
make_vps echo0 "${ECHO_OPTS[@]}"
for i in 1 2 3 4 5 6 7 8 9; do make_vps "hog$i"; done
HOGS_ONLY=${ISOLATION_HOGS_ONLY:-0}
if [ "$HOGS_ONLY" != 1 ]; then
        make_vps bomb --numproc 100
        make_vps hungry --ram 64M
        make_vps writer --iolimit 20M
        make_vps flooder --rate-out 10M
        # the flood goes to the VPS's gateway, the host's side: nothing listens there
        GATEWAY=$(vs exec flooder -- sh -c "ip route | awk '/^default/ {print \$3}'")
        [ -n "$GATEWAY" ] || die "flooder has no default route"
fi
ECHO_ADDR=$(addr_of echo0)

vs exec echo0 -- /payload udpecho 0.0.0.0:7777 3600 >"$R/echo.out" &
wait_for 10 "grep -q ready '$R/echo.out'" || die "echo server did not start"

echo "paene isolation benchmark: UDP round trips from the host's side to a VPS over its veth, $REQUESTS requests $GAP_MS ms apart"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: nproc $(nproc), kernel $(uname -r), /sys/fs/cgroup is $(stat -f -c %T /sys/fs/cgroup)"
[ -z "$SHIELD" ] || echo "run in $SHIELD, cpu.shares $ISOLATION_SHARES"
echo "time slices (default: the kernel's $(awk '$1 == "se.slice" {print $3 / 1e6 "ms"}' /proc/self/sched)): echo VPS $SLICE, the others $SLICE_ALL, client ${CLIENT_US}us (0: default); echo VPS cpuunits ${ISOLATION_ECHO_CPUUNITS:-default}"
scenario "alone"

# hog_scenario NAME [trace]: the 9 hogs run for LOAD_S seconds, NAME's
# requests among them; then what the hogs got done: rounds of 100000 loops
hog_scenario() {
        local hogs=() i
        for i in 1 2 3 4 5 6 7 8 9; do
                vs exec "hog$i" -- /payload cpuburn "$LOAD_S" count >"$R/hog$i.out" &
                hogs+=($!)
        done
        loaded hog1 hog2 hog3 hog4 hog5 hog6 hog7 hog8 hog9
        scenario "$@"
        wait "${hogs[@]}"
        cat "$R"/hog?.out | awk -v s="$LOAD_S" '/^rounds/ {n += $2; k++}
                END {printf "%-26s %d hogs ran %.0f rounds/s in all\n", "  (the hogs)", k, n / s}'
}

hog_scenario "9 CPU-hog VPS" trace
# the same with the echo VPS's CPU weight 16 times a hog's, unless the run
# chose a weight of its own: traced (contrib/bench/README.md), the heavier
# echo server is woken on the client's CPU, which the client leaves at once,
# instead of beside a hog whose slice protection holds until the next tick
if [ -z "${ISOLATION_ECHO_CPUUNITS:-}" ]; then
        vs set echo0 --no-save --cpuunits 16384 >/dev/null
        hog_scenario "9 CPU hogs, echo w16384"
        vs set echo0 --no-save --cpuunits 1024 >/dev/null
fi
for i in 1 2 3 4 5 6 7 8 9; do vs stop --fast "hog$i"; done
if [ "$HOGS_ONLY" = 1 ]; then
        vs destroy --force echo0 >/dev/null
        wait
        exit 0
fi

vs exec bomb -- /payload forkbomb "$LOAD_S" >/dev/null &
loaded bomb
scenario "fork bomb (numproc 100)"
vs stop --fast bomb

vs exec hungry -- sh -c "i=0; while [ \$i -lt 200 ]; do /payload memhog 200 >/dev/null 2>&1; i=\$((i + 1)); done" &
loaded hungry
scenario "memory hog (ram 64M)"
vs stop --fast hungry

vs exec writer -- /payload ddwrite /big $((LOAD_S * 20)) >/dev/null &
loaded writer
scenario "dd writer (iolimit 20M)"
vs stop --fast writer

vs exec flooder -- /payload udpflood "$GATEWAY" 9 "$LOAD_S" >/dev/null &
loaded flooder
scenario "UDP flood (rate-out 10M)"
vs stop --fast flooder

vs destroy --force echo0 >/dev/null
wait
