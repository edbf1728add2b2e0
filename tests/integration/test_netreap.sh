#!/bin/bash
# Links off the reply path (issue 13): a stop hands the VPS's host-side veth
# by its index to vsd's reaper (a fork of vsd's), which deletes it, so that
# the kernel's unregister is not in the reply, and takes no RTNL lock for it
# (the kernel's cleanup of dying network namespaces holds that for long);
# its ifb is renamed to a doomed "vsx-<ifindex>" name at once. A start that
# finds the last run's veth still there renames it to a doomed name first.
# What is tested is the behaviour, not the time (contrib/bench/stop.sh
# prints that): a start right after a stop works every time (bridge and
# routed, with a cap's ifb), also while the old veth is still there, the
# links go, and those a killed vsd left go at its next start.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netlib.sh"

# links whose name starts with $1, of every kind; fails when ip does
links_named() {
        local out
        out=$(in_host ip -o link show) || return 1
        awk -F': ' '{print $2}' <<<"$out" | sed 's/@.*//' | lines_matching "^$1"
}

no_doomed_links() { [ -z "$(links_named vsx-)" ]; }
no_links_named() { [ -z "$(links_named "$1")" ]; }
# the pid of VPS $1's init
init_of() { vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
# the index of link $1 in vsd's namespace (nothing when there is none)
index_of() { in_host ip -o link show "$1" 2>/dev/null | awk -F': ' '{print $1}'; }

# cycles NAME ADDR N: N times stop then start at once; each start must come
# up with its network (vsd's namespace reaches the VPS's address).
cycles() {
        local name=$1 addr=$2 n=$3 i
        for ((i = 1; i <= n; i++)); do
                vs stop --fast "$name" >/dev/null || fail "stop $i of $name"
                vs start "$name" >/dev/null || fail "start $i of $name, right after its stop"
        done
        expect_eq running "$(state_of "$name")" "$name after $n stop-start cycles"
        in_host busybox ping -c 1 -W 3 "$addr" >/dev/null || fail "$addr does not answer after $n cycles"
}

test_start_right_after_stop_bridge() {
        local a
        vs create q1 --template busybox >/dev/null
        vs start q1 >/dev/null
        a=$(addr_of q1)
        cycles q1 "$a" 25
        expect_eq "vs-q1" "$(links_named vs-q1)" "q1's host veth under its own name"
        vs stop --fast q1 >/dev/null
        wait_for 20 "no_links_named vs-q1" || fail "q1's veth left after its stop"
        wait_for 20 no_doomed_links || fail "doomed links left: $(links_named vsx-)"
        vs destroy q1 >/dev/null
}

test_start_right_after_stop_routed_with_caps() {
        local a
        use_conf "$(printf 'network_mode = routed\npool4 = 10.89.0.0/24')"
        vs create q2 --template busybox --rate-out 50M --rate-in 50M >/dev/null
        vs start q2 >/dev/null
        a=$(addr_of q2)
        cycles q2 "$a" 15
        expect_eq "vsi-q2" "$(links_named vsi-q2)" "q2's ifb under its own name"
        in_host ip route show "$a" | grep -q "dev vs-q2" || fail "no route to $a via vs-q2"
        vs stop --fast q2 >/dev/null
        # an ifb is renamed at the stop, after its answer and before vsd
        # reads another request (the status here): a start would take one of
        # its name
        vs status q2 >/dev/null
        expect_eq "" "$(links_named vsi-q2)" "q2's ifb name after its stop"
        wait_for 20 "no_links_named vs-q2" || fail "q2's veth left after its stop"
        wait_for 20 no_doomed_links || fail "doomed links left: $(links_named vsx-)"
        expect_eq "" "$(in_host ip route show "$a")" "the route to $a after the stop"
        vs destroy q2 >/dev/null
}

test_many_stops_then_all_links_go() {
        local i
        for i in 1 2 3 4 5 6; do
                vs create m$i --template busybox >/dev/null
                vs start m$i >/dev/null
        done
        for i in 1 2 3 4 5 6; do vs stop --fast m$i >/dev/null; done
        wait_for 20 "no_links_named vs-m" || fail "veths of the stopped VPS: $(links_named vs-m)"
        wait_for 20 no_doomed_links || fail "doomed links left: $(links_named vsx-)"
        for i in 1 2 3 4 5 6; do vs destroy m$i >/dev/null; done
}

# a vsd killed with links still to delete: its next start deletes them (here
# made by hand under doomed names, as the kill may come before the reaper's
# delete or after it)
test_doomed_links_of_a_killed_vsd_are_swept() {
        in_host ip link add vsx-7fff1 type veth peer name vsx-7fff2 || fail "make a doomed veth"
        in_host ip link add vsx-7fff3 type ifb || fail "make a doomed ifb"
        stop_vsd
        start_vsd || fail "vsd did not restart"
        expect_eq "" "$(links_named vsx-)" "doomed links after vsd's start"
}

# a vsd that ends right after it answered a stop, before its own record of
# it (state file, nftables elements) and with its reaper: the next vsd finds
# the VPS stopped, with no cgroup, no veth and no element of its interface,
# and starts it with its network
test_a_crash_right_after_a_stop_answer_leaves_the_vps_stopped() {
        local pid a d
        stop_vsd
        mkdir -p "$R/etc/paene"
        printf 'network_mode = routed\npool4 = 10.89.1.0/24\n' >"$R/etc/paene/vsd.conf"
        VSD_TEST_EXIT_AFTER_STOP_ANSWER=1 start_vsd || fail "vsd did not start"
        vs create k1 --template busybox >/dev/null
        vs start k1 >/dev/null
        a=$(addr_of k1)
        expect_contains "$(nft_elements)" '"vs-k1"' "k1's elements while it runs"
        pid=$(vsd_pid)
        vs stop --fast k1 >/dev/null || fail "the stop was not answered"
        wait_for 10 "is_dead $pid" || fail "vsd did not end after it answered the stop"
        rm -f "$R/run/paene/vsd.pid"
        start_vsd || fail "vsd did not start again"
        expect_eq stopped "$(state_of k1)" "k1 at the next vsd's start"
        expect_eq "" "$(links_named vs-k1)" "k1's veth at the next vsd's start"
        for d in $(cgroup_dirs); do
                [ ! -e "$d/default/k1" ] || fail "cgroup left: $d/default/k1"
        done
        expect_not_contains "$(nft_elements)" '"vs-k1"' "k1's elements at the next vsd's start"
        vs start k1 >/dev/null
        in_host busybox ping -c 1 -W 3 "$a" >/dev/null || fail "$a does not answer after the start"
        vs destroy --force k1 >/dev/null
        wait_for 20 no_doomed_links || fail "doomed links left: $(links_named vsx-)"
}

# A start while the last run's veth is still there (its deletion pending:
# the reaper held still, the VPS's network namespace held open so that the
# kernel does not delete the pair either): the stop returned without
# renaming it, and the start renames it out of the way and comes up with
# its network; the old one goes once the reaper runs.
test_a_start_while_the_old_veth_is_still_there() {
        local a reaper old ns
        use_conf "$(printf 'network_mode = routed\npool4 = 10.89.2.0/24')"
        vs create q4 --template busybox >/dev/null
        vs start q4 >/dev/null
        a=$(addr_of q4)
        # the reaper is made for the first link it is given: a stop whose
        # veth the kernel cannot delete first (its namespace held here)
        exec {ns}<"/proc/$(init_of q4)/ns/net"
        vs stop --fast q4 >/dev/null
        exec {ns}<&-
        reaper=$(pgrep -P "$(vsd_pid)" -x vsd-reaper) || fail "no vsd-reaper after a stop"
        wait_for 20 "no_links_named vs-q4" || fail "q4's first veth left"
        vs start q4 >/dev/null
        exec {ns}<"/proc/$(init_of q4)/ns/net"
        old=$(index_of vs-q4)
        [ -n "$old" ] || fail "no vs-q4 while q4 runs"
        kill -STOP "$reaper"
        vs stop --fast q4 >/dev/null || { kill -CONT "$reaper"; fail "stop of q4"; }
        expect_eq "$old" "$(index_of vs-q4)" \
                "vs-q4 after the stop, its deletion pending"
        vs start q4 >/dev/null || { kill -CONT "$reaper"; fail "start of q4 beside its old veth"; }
        [ "$(index_of vs-q4)" != "$old" ] || fail "vs-q4 is the old veth"
        in_host busybox ping -c 1 -W 3 "$a" >/dev/null || fail "$a does not answer"
        kill -CONT "$reaper"
        exec {ns}<&-
        wait_for 20 no_doomed_links || fail "doomed links left: $(links_named vsx-)"
        expect_eq "vs-q4" "$(links_named vs-q4)" "q4's links after the reaper ran"
        vs destroy --force q4 >/dev/null
}

run_tests
