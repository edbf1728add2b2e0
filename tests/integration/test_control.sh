#!/bin/bash
# The control plane under abuse and load: client caps and time-outs, no
# spinning when vsd runs out of descriptors, exactly one reply per request.
. "$(dirname "$0")/lib.sh"

HOLD="$TOP/tests/integration/holdconn.py"

# vsd's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
vsd_ticks() {
        awk '{print $14 + $15}' "/proc/$(vsd_pid)/stat"
}

open_fds() { find "/proc/$(vsd_pid)/fd" -mindepth 1 | wc -l; }

# restart vsd with this vsd.conf text (the caps are read at start)
restart_with_conf() {
        printf '%s\n' "$@" >"$R/etc/paene/vsd.conf"
        stop_vsd
        start_vsd || fail "vsd did not start with: $*"
}

# hold N connections as ARGS... (setpriv options or nothing); sets HOLD_PID
# and HOLD_OUT; waits until they are all connected.
hold() { # n out-file [setpriv args...]
        local n=$1 out=$2
        shift 2
        mkdir -p -m 1777 "$R/hold"
        rm -f "$R/hold/ready" "$R/hold/release"
        if [ $# -gt 0 ]; then
                setpriv "$@" /usr/bin/python3 "$HOLD" "$R/run/paene/vsd.sock" "$n" "$R/hold/ready" \
                        "$R/hold/release" >"$out" 2>&1 &
        else
                /usr/bin/python3 "$HOLD" "$R/run/paene/vsd.sock" "$n" "$R/hold/ready" \
                        "$R/hold/release" >"$out" 2>&1 &
        fi
        HOLD_PID=$!
        wait_for 20 "[ -e '$R/hold/ready' ] || ! kill -0 $HOLD_PID 2>/dev/null" ||
                fail "holder did not connect"
        [ -e "$R/hold/ready" ] || fail "holder failed: $(cat "$out")"
}

release() {
        touch "$R/hold/release"
        wait "$HOLD_PID" || fail "holder exited $?: $(cat "$1")"
}

test_idle_connections_of_a_member_do_not_stop_root() {
        local gid t0 t1 counts out=$R/hold.out rc=0
        gid=$(getent group paene | cut -d: -f3)
        [ -n "$gid" ] || fail "no group paene"
        restart_with_conf "max_clients_per_uid = 8" "client_timeout = 60s"
        chmod 755 "$R" "$R/run" "$R/run/paene"
        # few descriptors to spare: the old vsd ran out with 40 idle clients
        prlimit --pid "$(vsd_pid)" --nofile=$(($(open_fds) + 20)):20000
        hold 40 "$out" --reuid=65534 --regid=65534 --groups="$gid"
        t0=$(vsd_ticks)
        timeout 10 "$BIN/vsctl" --root "$R" list -a >/dev/null || rc=$?
        expect_eq 0 "$rc" "root's list beside 40 idle connections of uid 65534"
        # a window in which an idle vsd does nothing (the old one spun)
        sleep 2
        t1=$(vsd_ticks)
        [ $((t1 - t0)) -lt 30 ] || fail "vsd used $((t1 - t0)) ticks of CPU in about 2 s"
        release "$out"
        counts=$(cat "$out")
        # the backlog is accepted in order: all 40 were taken or refused
        # before root's list was answered
        expect_contains "$counts" "busy=32 " "refused past max_clients_per_uid"
        expect_contains "$counts" "other=0 " "no other replies"
        restart_with_conf ""
}

vsd_sockets() { find "/proc/$(vsd_pid)/fd" -lname 'socket:*' | wc -l; }

test_idle_client_is_timed_out() {
        local out=$R/hold.out counts base
        restart_with_conf "client_timeout = 500ms"
        base=$(vsd_sockets)
        hold 3 "$out"
        # vsd answers an idle connection and closes it after client_timeout
        wait_for 10 "[ \$(vsd_sockets) -le $base ]" ||
                fail "idle connections still open after client_timeout"
        release "$out"
        counts=$(cat "$out")
        expect_contains "$counts" "timeout=3 " "each idle client told why"
        expect_rc 0 "list after the time-outs" -- vs list -a
        restart_with_conf ""
}

test_out_of_descriptors_no_spin_and_served_after() {
        local out=$R/hold.out t0 t1 list_pid rc=0
        restart_with_conf "client_timeout = 60s"
        prlimit --pid "$(vsd_pid)" --nofile=$(($(open_fds) + 6)):20000
        # root is not capped: it can take every descriptor vsd has
        hold 30 "$out"
        timeout 30 "$BIN/vsctl" --root "$R" list -a >"$R/list.out" 2>&1 &
        list_pid=$!
        t0=$(vsd_ticks)
        sleep 2 # the window measured: vsd out of descriptors, clients waiting
        t1=$(vsd_ticks)
        [ $((t1 - t0)) -lt 30 ] || fail "vsd used $((t1 - t0)) ticks of CPU in about 2 s"
        kill -0 "$list_pid" || fail "list ended while vsd had no descriptor for it"
        release "$out"
        wait "$list_pid" || rc=$?
        expect_eq 0 "$rc" "list once descriptors were free ($(cat "$R/list.out"))"
        expect_rc 0 "a later list" -- vs list -a
        restart_with_conf ""
}

test_bad_client_conf_is_refused_at_start() {
        printf 'max_clients_per_uid = lots\n' >"$R/etc/paene/vsd.conf"
        stop_vsd
        expect_rc 1 "vsd with a bad max_clients_per_uid" -- nsenter --net="$R/netns" \
                "$BIN/vsd" --root "$R" --cgroup-name "$CG"
        expect_contains "$ERR" "max_clients_per_uid" "message"
        : >"$R/etc/paene/vsd.conf"
        start_vsd || fail "vsd did not start again"
}

run_tests
