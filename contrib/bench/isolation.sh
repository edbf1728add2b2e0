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
#   ISOLATION_CLIENT_US      the client's own slice in µs (build/schedslice,
#                            `make build/schedslice`): it stands for a
#                            machine of its own, which vsd does not start
set -u
REQUESTS=${1:-1000}
case $REQUESTS in
'' | *[!0-9]* | 0*) echo "usage: isolation.sh [REQUESTS]   (1..100000)" >&2; exit 2 ;;
esac
[ "$REQUESTS" -le 100000 ] || { echo "usage: isolation.sh [REQUESTS]   (1..100000)" >&2; exit 2; }
. "$(dirname "$0")/../../tests/integration/lib.sh"
. "$(dirname "$0")/../../tests/integration/netlib.sh"
trap teardown EXIT
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
LOAD_S=$((REQUESTS * (GAP_MS + 1) / 1000 + 5))

make_vps() { # name options...
        local name=$1
        shift
        vs create "$name" --template busybox --timeslice "$SLICE_ALL" "$@" >/dev/null
        vs start "$name"
        install_payload "$name"
}

# scenario NAME: one line of figures for REQUESTS round trips
scenario() {
        local out
        out=$(in_host "${CLIENT[@]}" "$BIN/payload" udpping "$ECHO_ADDR:7777" "$REQUESTS" "$GAP_MS")
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

make_vps echo0 --timeslice "$SLICE"
for i in 1 2 3 4 5 6 7 8 9; do make_vps "hog$i"; done
make_vps bomb --numproc 100
make_vps hungry --ram 64M
make_vps writer --iolimit 20M
make_vps flooder --rate-out 10M
ECHO_ADDR=$(addr_of echo0)
# the flood goes to the VPS's gateway, the host's side: nothing listens there
GATEWAY=$(vs exec flooder -- sh -c "ip route | awk '/^default/ {print \$3}'")
[ -n "$GATEWAY" ] || die "flooder has no default route"

vs exec echo0 -- /payload udpecho 0.0.0.0:7777 3600 >"$R/echo.out" &
wait_for 10 "grep -q ready '$R/echo.out'" || die "echo server did not start"

echo "paene isolation benchmark: UDP round trips from the host's side to a VPS over its veth, $REQUESTS requests $GAP_MS ms apart"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: nproc $(nproc), kernel $(uname -r), /sys/fs/cgroup is $(stat -f -c %T /sys/fs/cgroup)"
echo "time slices (default: the kernel's $(awk '$1 == "se.slice" {print $3 / 1e6 "ms"}' /proc/self/sched)): echo VPS $SLICE, the others $SLICE_ALL, client ${CLIENT_US}us (0: default)"
scenario "alone"

hogs=()
for i in 1 2 3 4 5 6 7 8 9; do
        vs exec "hog$i" -- /payload cpuburn "$LOAD_S" count >"$R/hog$i.out" &
        hogs+=($!)
done
loaded hog1 hog2 hog3 hog4 hog5 hog6 hog7 hog8 hog9
scenario "9 CPU-hog VPS"
# what the hogs got done in their LOAD_S seconds: rounds of 100000 loops
wait "${hogs[@]}"
cat "$R"/hog?.out | awk -v s="$LOAD_S" '/^rounds/ {n += $2; k++}
        END {printf "%-26s %d hogs ran %.0f rounds/s in all\n", "  (the hogs)", k, n / s}'
for i in 1 2 3 4 5 6 7 8 9; do vs stop --fast "hog$i"; done

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
