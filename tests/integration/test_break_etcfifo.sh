#!/bin/bash
# A VPS's root owns its /etc, where vsd writes /etc/hostname, /etc/hosts
# and /etc/resolv.conf at each start (in vsd's own process, before the
# init's go) and at a live `set`: each through a temporary file beside it,
# .NAME.tmp.PID, PID being vsd's. What the VPS's root plants at that name
# (a FIFO, which an open for writing waits on until somebody reads it)
# must never hold vsd up: one VPS would stop the node's control of every
# VPS. The VPS does not need to know vsd's pid: a FIFO for each of the
# host's pid_max pids (32768 by default) costs it a second. Here the test
# plants the one vsd uses, from outside (as the VPS's root could from
# inside), and only reads it from the host when vsd hung on it, so that
# the old code fails the test instead of the whole file.
. "$(dirname "$0")/lib.sh"

# release_vsd NAME: lets a vsd that waits on the FIFO NAME go: reads it
# once through the directory vsd holds open while it waits (the FIFO it
# opens may be the VPS's overlay's, another pipe than its upper layer's)
release_vsd() {
        local pid fd
        pid=$(vsd_pid)
        for fd in /proc/"$pid"/fd/*; do
                if [ -p "$fd/$1" ]; then
                        timeout 5 cat "$fd/$1" >/dev/null 2>&1 || :
                fi
        done
        return 0
}

# answers SECONDS: vsd answers a list within that time
answers() { timeout "$(scaled "$1")" "$BIN/vsctl" --root "$R" list -a >/dev/null 2>&1; }

# plant NAME FILE: a FIFO at /etc/.FILE.tmp.<vsd's pid> in the VPS's
# layer, made by the VPS's root, and FILE changed so that vsd rewrites it
plant() {
        local pid
        pid=$(vsd_pid)
        [ -n "$pid" ] || fail "no vsd pid"
        vs exec "$1" -- sh -c "mkfifo /etc/.$2.tmp.$pid && echo planted >/etc/$2"
        FIFO=".$2.tmp.$pid"
        [ -p "$(vps_dir "$1")/upper/etc/$FIFO" ] || fail "the FIFO is not in the VPS's layer"
}

test_a_fifo_at_vsds_temporary_file_does_not_hang_a_reboot_inside() {
        local before now rc=0
        vs create ef1 --template busybox
        vs start ef1
        plant ef1 hostname
        before=$(vs list -H -o pid ef1)
        # the VPS's own act: vsd starts it again, and writes /etc/hostname
        vs exec ef1 -- reboot || true
        wait_for 20 'now=$(timeout 2 "$BIN/vsctl" --root "$R" list -H -o pid ef1 2>/dev/null) &&
                [ -n "$now" ] && [ "$now" != "$before" ] && [ "$now" != - ]' || rc=1
        answers 5 || rc=2
        [ "$rc" -eq 0 ] || {
                release_vsd "$FIFO"
                fail "vsd hung on the FIFO the VPS planted (rc $rc)"
        }
        wait_for 20 '[ "$(state_of ef1)" = running ]' || fail "ef1 did not come back: $(vs status ef1)"
        expect_eq ef1 "$(vs exec ef1 -- cat /etc/hostname)" "hostname written after the reboot"
        vs destroy --force ef1
}

test_a_fifo_at_vsds_temporary_file_does_not_hang_a_live_set() {
        local rc=0
        vs create ef2 --template busybox --ipadd 10.77.0.42
        vs start ef2
        plant ef2 hostname
        timeout "$(scaled 20)" "$BIN/vsctl" --root "$R" set ef2 --hostname ef2.example >/dev/null 2>&1 || rc=$?
        [ "$rc" -ne 124 ] && answers 5 || {
                release_vsd "$FIFO"
                fail "vsd hung on the FIFO the VPS planted (set: rc $rc)"
        }
        expect_eq 0 "$rc" "set --hostname"
        expect_eq ef2.example "$(vs exec ef2 -- cat /etc/hostname)" "/etc/hostname"
        expect_eq ef2.example "$(vs exec ef2 -- hostname)" "the hostname"
        vs destroy --force ef2
}

test_a_fifo_at_vsds_temporary_resolv_conf_does_not_hang_a_live_set() {
        local rc=0
        vs create ef3 --template busybox --ipadd 10.77.0.43
        vs start ef3
        plant ef3 resolv.conf
        timeout "$(scaled 20)" "$BIN/vsctl" --root "$R" set ef3 --nameserver 192.0.2.53 >/dev/null 2>&1 || rc=$?
        [ "$rc" -ne 124 ] && answers 5 || {
                release_vsd "$FIFO"
                fail "vsd hung on the FIFO the VPS planted (set: rc $rc)"
        }
        expect_eq 0 "$rc" "set --nameserver"
        expect_contains "$(vs exec ef3 -- cat /etc/resolv.conf)" "nameserver 192.0.2.53" "/etc/resolv.conf"
        vs destroy --force ef3
}

run_tests
