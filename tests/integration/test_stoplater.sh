#!/bin/bash
# A stop's work after its answer that waits for an idle moment (issue 13,
# runtime/later.c): its nftables elements' removal and its state file. What
# is tested is the order and the outcome, not the time (contrib/bench/stop.sh
# prints that): the removals of several stops go in one nftables
# transaction; a start right after a stop removes the old elements in its
# own transaction and comes up with its network; a request other than a
# start, a stop or a destroy finds the work done; a vsd killed with the work
# still waiting leaves the VPS stopped and startable at its next start;
# the releaser lets go of a stopped VPS's root with that work.
# VSD_TEST_LATER_MS holds the work (60 s) until a request asks for it, so
# that the outcome does not depend on this host's timing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netlib.sh"

HOLD_MS=60000

# vsd again in routed mode (pool $1), holding a stop's work until a request
# needs it
held_vsd() {
        stop_vsd
        mkdir -p "$R/etc/paene"
        printf 'network_mode = routed\npool4 = %s\n' "$1" >"$R/etc/paene/vsd.conf"
        VSD_TEST_LATER_MS=$HOLD_MS start_vsd || fail "vsd did not start"
}

# ---- nft monitor in vsd's namespace: one line "# new generation N by
# process PID (COMM)" per transaction ----

MONITOR_PID=
MONITOR_OUT=
PROBES=0

monitor_start() {
        MONITOR_OUT=$R/monitor.$RANDOM
        : >"$MONITOR_OUT"
        # nsenter execs nft: $! is the monitor itself
        nsenter --net="$R/netns" nft monitor >"$MONITOR_OUT" 2>&1 &
        MONITOR_PID=$!
        monitor_sync || fail "nft monitor did not start"
}

monitor_stop() {
        [ -n "$MONITOR_PID" ] || return 0
        kill "$MONITOR_PID" 2>/dev/null
        wait "$MONITOR_PID" 2>/dev/null || : # ended by the signal
        MONITOR_PID=
}

# a transaction of the test's own, seen by the monitor: what came before
# it has been printed
monitor_sync() {
        local t=probe$((PROBES += 1)) i
        for ((i = 0; i < 100; i++)); do
                in_host nft add table ip "$t" && in_host nft delete table ip "$t" || return 1
                wait_for 1 "grep -q 'delete table ip $t' '$MONITOR_OUT'" && return 0
        done
        return 1
}

# the transactions vsd (pid $1) made, as the monitor printed them so far
vsd_generations() {
        grep -c "^# new generation [0-9]* by process $1 " "$MONITOR_OUT" || :
}

# the interface names the set macs of "inet paene" holds elements of, on
# one line
macs_ifnames() {
        local out
        out=$(in_host nft list set inet paene macs) || return 1
        grep -o '"vs-[a-z0-9_-]*"' <<<"$out" | sort | paste -sd' ' || :
}

test_the_removals_of_several_stops_go_in_one_transaction() {
        local i pid before
        held_vsd 10.89.3.0/24
        for i in 1 2 3; do
                vs create l$i --template busybox >/dev/null
                vs start l$i >/dev/null
        done
        expect_eq '"vs-l1" "vs-l2" "vs-l3"' "$(macs_ifnames)" "the elements while they run"
        pid=$(vsd_pid)
        monitor_start || return 1
        before=$(vsd_generations "$pid")
        for i in 1 2 3; do vs stop --fast l$i >/dev/null || fail "stop l$i"; done
        vs destroy l3 >/dev/null || fail "destroy l3"
        # a status needs the work done: after it, nothing of the three
        expect_eq stopped "$(state_of l1)" "l1 after its stop"
        monitor_sync || fail "the monitor fell behind"
        monitor_stop
        expect_eq "" "$(macs_ifnames)" "the elements after the stops and a status"
        expect_eq 1 $(($(vsd_generations "$pid") - before)) \
                "vsd's nftables transactions for three stops ($(grep -c '^delete element' "$MONITOR_OUT") removals)"
        expect_contains "$(cat "$(vps_dir l1)/state")" "phase = stopped" "l1's state file"
        expect_contains "$(cat "$(vps_dir l2)/state")" "phase = stopped" "l2's state file"
        [ ! -e "$(vps_dir l3)" ] || fail "l3's directory after its destroy"
        vs destroy l1 l2 >/dev/null
}

test_a_start_right_after_a_stop_removes_the_old_elements_with_its_own() {
        local pid before a
        held_vsd 10.89.4.0/24
        vs create s1 --template busybox >/dev/null
        vs start s1 >/dev/null
        a=$(addr_of s1)
        pid=$(vsd_pid)
        monitor_start || return 1
        before=$(vsd_generations "$pid")
        vs stop --fast s1 >/dev/null || fail "stop s1"
        vs start s1 >/dev/null || fail "start s1 right after its stop"
        monitor_sync || fail "the monitor fell behind"
        monitor_stop
        expect_eq 1 $(($(vsd_generations "$pid") - before)) "vsd's nftables transactions for a stop and a start"
        expect_eq '"vs-s1"' "$(macs_ifnames)" "s1's MAC element after the start"
        expect_contains "$(in_host nft list set inet paene src4)" "\"vs-s1\" . $a" "s1's address element"
        in_host busybox ping -c 1 -W 3 "$a" >/dev/null || fail "$a does not answer after the start"
        expect_contains "$(cat "$(vps_dir s1)/state")" "phase = running" "s1's state file after the start"
        vs destroy --force s1 >/dev/null
}

# the overlays vsd's releaser (vsd-release, runtime/release.c) holds: one
# line per root of a stopped VPS it has not let go of yet
roots_held() {
        local releaser f
        releaser=$(pgrep -P "$(vsd_pid)" -x vsd-release) || return 0
        for f in /proc/"$releaser"/fd/*; do
                stat -f -L -c %T "$f" 2>/dev/null
        done | grep -c '^overlayfs$' || :
}

# The last run's root (the overlay, the init's mount namespace) is let go
# with the rest of the stop's work, not at once: its kernel work (the
# unmounts, the overlay's sync) took a CPU just as the next request came.
# A start right after the stop asks for it and finds its files; a destroy
# while it is held removes the VPS whole; a request that needs the work
# done sees the roots let go.
test_a_stops_root_is_let_go_with_its_waiting_work() {
        held_vsd 10.89.6.0/24
        vs create r1 --template busybox >/dev/null
        vs create r2 --template busybox >/dev/null
        vs start r1 >/dev/null
        vs start r2 >/dev/null
        vs exec r1 -- sh -c 'echo first >/runs'
        expect_eq 0 "$(roots_held)" "roots held while r1 and r2 run"
        vs stop --fast r1 >/dev/null || fail "stop r1"
        vs stop --fast r2 >/dev/null || fail "stop r2"
        expect_eq 2 "$(roots_held)" "roots held after the stops, their work waiting"
        vs start r1 >/dev/null || fail "start r1 while its last root waits"
        expect_eq 1 "$(roots_held)" "roots held after r1's start (r2's)"
        vs destroy r2 >/dev/null || fail "destroy r2 while its root is held"
        wait_for 10 '[ ! -e "$(vps_dir r2)" ]' || fail "r2's files after its destroy"
        # an exec, like a status, finds the stops' work done
        expect_eq first "$(vs exec r1 -- cat /runs)" "r1's file of its last run"
        wait_for 10 '[ "$(roots_held)" = 0 ]' || fail "roots still held after a status: $(roots_held)"
        expect_eq "" "$(grep -F "$(vps_dir r2)" /proc/self/mountinfo)" "mounts of r2 left in the host's namespace"
        vs destroy --force r1 >/dev/null
}

# vsd's word to let go finds the releaser's queue full (the releaser
# stopped while stops came, its send buffer made small with
# VSD_TEST_RELEASE_SNDBUF): it is sent once the queue has room again, with
# no request to carry it (it was sent again only before the next request).
test_a_let_go_that_finds_the_releasers_queue_full_is_sent_once_there_is_room() {
        local releaser i n=10
        stop_vsd
        mkdir -p "$R/etc/paene"
        : >"$R/etc/paene/vsd.conf"
        VSD_TEST_LATER_MS=$HOLD_MS VSD_TEST_RELEASE_SNDBUF=1 start_vsd || fail "vsd did not start"
        for ((i = 1; i <= n; i++)); do
                vs create q$i --template busybox >/dev/null
                vs start q$i >/dev/null
        done
        releaser=$(pgrep -P "$(vsd_pid)" -x vsd-release) || fail "no vsd-release"
        kill -STOP "$releaser"
        for ((i = 1; i <= n; i++)); do vs stop --fast q$i >/dev/null || fail "stop q$i"; done
        # the status asks for the stops' work: the word meets the full queue
        expect_eq stopped "$(state_of q1)" "q1 after its stop"
        kill -CONT "$releaser"
        wait_for 10 '[ "$(roots_held)" = 0 ]' ||
                fail "roots still held with no request after the releaser went on: $(roots_held)"
        for ((i = 1; i <= n; i++)); do vs destroy q$i >/dev/null; done
}

# the directories of VPS $1's cgroups that exist now, one per line
cgroups_of() {
        local d
        for d in $(cgroup_dirs); do
                [ -d "$d/default/$1" ] && echo "$d/default/$1"
        done
        return 0
}

# A stop's cgroups go with its waiting work, not before its answer: their
# rmdir starts the kernel's teardown of the memory cgroup, a few ms of a
# worker's CPU at 1000 VPS, which ran just as the next request came. A
# start right after the stop makes them afresh; a request that needs the
# work done finds them gone, also those of a VPS destroyed meanwhile.
test_a_stops_cgroups_go_with_its_waiting_work() {
        held_vsd 10.89.7.0/24
        vs create c1 --template busybox >/dev/null
        vs create c2 --template busybox >/dev/null
        vs create c3 --template busybox >/dev/null
        vs start c1 >/dev/null
        vs start c2 >/dev/null
        vs start c3 >/dev/null
        vs stop --fast c1 >/dev/null || fail "stop c1"
        vs stop --fast c2 >/dev/null || fail "stop c2"
        vs stop --fast c3 >/dev/null || fail "stop c3"
        vs destroy c3 >/dev/null || fail "destroy c3"
        [ -n "$(cgroups_of c2)" ] || fail "c2's cgroups went before its waiting work"
        vs start c1 >/dev/null || fail "start c1 while its cgroups' removal waits"
        # a status needs the work done
        expect_eq "c1 exist running" "$(vs status c1)" "c1 after its start"
        expect_eq "" "$(cgroups_of c2)" "c2's cgroups after a status"
        expect_eq "" "$(cgroups_of c3)" "c3's cgroups after its destroy and a status"
        [ -n "$(cgroups_of c1)" ] || fail "c1 runs with no cgroup"
        grep -qx "$(pid_of c1)" <<<"$(vps_procs c1)" || fail "c1's init is not in its new cgroup"
        vs destroy --force c1 >/dev/null
        vs destroy c2 >/dev/null
}

# vsd SIGKILLed with the cgroups of a stopped VPS and of one stopped and
# destroyed still waiting: the next vsd removes both as it starts.
test_a_vsd_killed_with_a_stops_cgroups_waiting_leaves_none() {
        local pid
        held_vsd 10.89.8.0/24
        vs create g1 --template busybox >/dev/null
        vs create g2 --template busybox >/dev/null
        vs start g1 >/dev/null
        vs start g2 >/dev/null
        vs stop --fast g1 >/dev/null || fail "stop g1"
        vs stop --fast g2 >/dev/null || fail "stop g2"
        vs destroy g2 >/dev/null || fail "destroy g2"
        # the kill came with the removals waiting (what is tested)
        [ -n "$(cgroups_of g1)" ] || fail "g1's cgroups went before the kill"
        [ -n "$(cgroups_of g2)" ] || fail "g2's cgroups went before the kill"
        pid=$(vsd_pid)
        kill -9 "$pid"
        wait_for 10 "is_dead $pid" || fail "vsd $pid did not end"
        rm -f "$R/run/paene/vsd.pid"
        start_vsd || fail "vsd did not start again"
        expect_eq "" "$(cgroups_of g1)" "g1's cgroups at the next vsd's start"
        expect_eq "" "$(cgroups_of g2)" "the destroyed g2's cgroups at the next vsd's start"
        vs start g1 >/dev/null || fail "start g1 after the crash"
        vs destroy --force g1 >/dev/null
}

# vsd SIGKILLed after a stop's answer, its work still waiting: the next vsd
# finds the VPS stopped, no element of its interface, no veth in the way,
# and starts it with its network
test_a_vsd_killed_with_a_stops_work_waiting_leaves_the_vps_stopped() {
        local pid a
        held_vsd 10.89.5.0/24
        vs create k2 --template busybox >/dev/null
        vs start k2 >/dev/null
        a=$(addr_of k2)
        pid=$(vsd_pid)
        [ -n "$pid" ] || fail "no pid of the vsd started here"
        vs stop --fast k2 >/dev/null || fail "the stop was not answered"
        kill -9 "$pid"
        wait_for 10 "is_dead $pid" || fail "vsd $pid did not end"
        # the kill came with the work waiting (what is tested)
        expect_contains "$(cat "$(vps_dir k2)/state")" "phase = running" "k2's state file at the kill"
        expect_contains "$(nft_elements)" '"vs-k2"' "k2's elements at the kill"
        rm -f "$R/run/paene/vsd.pid"
        start_vsd || fail "vsd did not start again"
        expect_eq stopped "$(state_of k2)" "k2 at the next vsd's start"
        expect_contains "$(cat "$(vps_dir k2)/state")" "phase = stopped" "k2's state file"
        expect_not_contains "$(nft_elements)" '"vs-k2"' "k2's elements at the next vsd's start"
        wait_for 20 '[ -z "$(in_host ip -o link show vs-k2 2>/dev/null)" ]' ||
                fail "k2's veth left after the next vsd's start"
        vs start k2 >/dev/null || fail "start k2 after the crash"
        in_host busybox ping -c 1 -W 3 "$a" >/dev/null || fail "$a does not answer after the start"
        expect_contains "$(nft_elements)" '"vs-k2"' "k2's elements after its start"
        vs destroy --force k2 >/dev/null
}

run_tests
