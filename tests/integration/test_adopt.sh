#!/bin/bash
# Re-adoption after a restart of vsd trusts no pid alone: a state file that
# names a live process which is not provably the VPS's init (another start
# time, another boot, another pid namespace, another cgroup) leaves the VPS
# stopped, and that process is never signalled nor entered.
. "$(dirname "$0")/lib.sh"

LOG=""

# vsd logging to a fresh file, so that a test reads why this run refused
# to adopt
start_vsd_logged() {
        LOG=$R/vsd-adopt.log
        : >"$LOG"
        start_vsd_logging_to "$LOG"
}

kill_vsd() {
        local pid
        pid=$(vsd_pid)
        kill -9 "$pid"
        wait_for 10 "is_dead $pid" || fail "vsd did not die"
}

init_pid() { vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }

state_file() { echo "$(vps_dir "$1")/state"; }

state_get() { sed -n "s/^$2 = //p" "$(state_file "$1")"; }

# state_set VPS KEY VALUE: what someone who forges or corrupts the file does
state_set() {
        local f
        f=$(state_file "$1")
        sed -i "/^$2 = /d" "$f"
        echo "$2 = $3" >>"$f"
}

# Field 22 of /proc/PID/stat (the start time), counted after the comm's ')'.
starttime_of() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $20}'; }

pidns_of() { stat -L -c '%d:%i' "/proc/$1/ns/pid"; }

# Alive, and not stopped: no signal reached it.
untouched() {
        [ -e "/proc/$1" ] || return 1
        grep -q '^State:[[:space:]]*[RSD]' "/proc/$1/status"
}

# Processes a test started, to end by pid whatever happens; the last one
# planted is in $planted.
PLANTED=()
planted=""

plant_host_sleep() {
        sleep 600 </dev/null >/dev/null 2>&1 &
        planted=$!
        PLANTED+=("$planted")
}

# A sleep that is pid 1 of a pid namespace of its own, as a VPS's init is.
plant_pidns_sleep() {
        local outer child=""
        unshare -p -f --mount-proc sleep 600 </dev/null >/dev/null 2>&1 &
        outer=$!
        PLANTED+=("$outer")
        wait_for 10 'child=$(pgrep -P "$outer" | head -1); [ -n "$child" ]' ||
                fail "no process in the new pid namespace"
        planted=$child
        PLANTED+=("$planted")
}

kill_planted() {
        local p
        for p in "${PLANTED[@]}"; do
                kill -9 "$p" 2>/dev/null
        done
        return 0
}

# A running VPS whose init is gone while vsd is down: what a reboot, or a
# crash of vsd followed by the end of the VPS, leaves.
vps_left_behind() { # name [create options]
        local name=$1 pid
        shift
        vs create "$name" --template busybox "$@"
        vs start "$name"
        pid=$(init_pid "$name")
        kill_vsd
        kill -9 "$pid"
        wait_for 10 "is_dead $pid" || fail "init did not die"
}

# After vsd's restart: the VPS is stopped and says so, the process the
# state file named is untouched, exec into the VPS is refused, and nothing
# the VPS can be asked to do reaches that process.
expect_not_adopted() { # name planted-pid reason
        local name=$1 planted=$2
        expect_eq stopped "$(state_of "$name")" "$name after restart"
        expect_eq stopped "$(state_get "$name" phase)" "state file of $name"
        expect_contains "$(cat "$LOG")" "$name: not adopted" "vsd's log"
        expect_contains "$(cat "$LOG")" "$3" "reason in vsd's log"
        untouched "$planted" || fail "planted process $planted was signalled"
        expect_rc 4 "exec into $name" -- vs exec "$name" -- hostname
        expect_contains "$ERR" "not running" "exec's message"
        expect_rc 4 "stop $name" -- vs stop --fast "$name"
        vs destroy --force "$name"
        untouched "$planted" || fail "planted process $planted was signalled by destroy"
}

test_a_host_process_that_took_the_pid_is_not_adopted() {
        trap kill_planted EXIT
        vps_left_behind stranger1 --privileged
        plant_host_sleep
        # the state file is as vsd left it; only the pid is now someone
        # else's (pid reuse, as after ~32k forks or a reboot)
        state_set stranger1 pid "$planted"
        start_vsd_logged
        expect_not_adopted stranger1 "$planted" "start time"
}

test_a_process_in_its_own_pid_namespace_that_took_the_pid_is_not_adopted() {
        trap kill_planted EXIT
        vps_left_behind stranger2
        plant_pidns_sleep
        state_set stranger2 pid "$planted"
        start_vsd_logged
        expect_not_adopted stranger2 "$planted" "start time"
}

test_a_state_file_from_another_boot_is_not_adopted() {
        trap kill_planted EXIT
        vps_left_behind oldboot --privileged
        plant_host_sleep
        state_set oldboot pid "$planted"
        state_set oldboot boot_id "00000000-0000-4000-8000-000000000000"
        start_vsd_logged
        expect_not_adopted oldboot "$planted" "another boot"
}

# Each check on its own: a state file forged to match the planted process
# in everything but one of them.
test_matching_start_time_in_vsd_own_pid_namespace_is_not_adopted() {
        trap kill_planted EXIT
        vps_left_behind forged1 --privileged
        plant_host_sleep
        state_set forged1 pid "$planted"
        state_set forged1 starttime "$(starttime_of "$planted")"
        state_set forged1 boot_id "$(cat /proc/sys/kernel/random/boot_id)"
        state_set forged1 pidns "$(pidns_of "$planted")"
        start_vsd_logged
        expect_not_adopted forged1 "$planted" "vsd's own pid namespace"
}

test_matching_start_time_in_another_pid_namespace_is_not_adopted() {
        trap kill_planted EXIT
        vps_left_behind forged2
        plant_pidns_sleep
        state_set forged2 pid "$planted"
        # its start time, this boot, but not the namespace vsd recorded
        state_set forged2 starttime "$(starttime_of "$planted")"
        start_vsd_logged
        expect_not_adopted forged2 "$planted" "not in the pid namespace the VPS started in"
}

test_matching_everything_but_the_cgroup_is_not_adopted() {
        trap kill_planted EXIT
        vps_left_behind forged3 --privileged
        plant_pidns_sleep
        state_set forged3 pid "$planted"
        state_set forged3 starttime "$(starttime_of "$planted")"
        state_set forged3 boot_id "$(cat /proc/sys/kernel/random/boot_id)"
        state_set forged3 pidns "$(pidns_of "$planted")"
        start_vsd_logged
        expect_not_adopted forged3 "$planted" "not in the VPS's cgroup"
}

# A state file an older vsd wrote records neither boot nor pid namespace:
# nothing proves that its pid is still the VPS's init, so the VPS is
# stopped (its cgroup, vsd's own, is emptied) and starts again.
test_a_state_file_without_boot_and_pid_namespace_is_not_adopted() {
        local pid
        vs create oldvsd --template busybox --privileged
        vs start oldvsd
        pid=$(init_pid oldvsd)
        kill_vsd
        sed -i '/^boot_id = /d; /^pidns = /d' "$(state_file oldvsd)"
        start_vsd_logged
        expect_eq stopped "$(state_of oldvsd)" "after restart"
        expect_contains "$(cat "$LOG")" "oldvsd: not adopted" "vsd's log"
        expect_contains "$(cat "$LOG")" "records no boot" "reason"
        wait_for 10 "is_dead $pid" || fail "the VPS's processes were left running unmanaged"
        vs start oldvsd
        expect_eq running "$(state_of oldvsd)" "starts again"
        vs destroy --force oldvsd
}

# The state file records what proves the init: this boot, its start time
# (field 22 of /proc/PID/stat) and its pid namespace.
test_state_file_records_the_init_identity() {
        local pid
        vs create ident --template busybox
        vs start ident
        pid=$(init_pid ident)
        expect_eq "$pid" "$(state_get ident pid)" "pid"
        expect_eq "$(starttime_of "$pid")" "$(state_get ident starttime)" "start time"
        expect_eq "$(cat /proc/sys/kernel/random/boot_id)" "$(state_get ident boot_id)" "boot"
        expect_eq "$(pidns_of "$pid")" "$(state_get ident pidns)" "pid namespace"
        vs destroy --force ident
}

test_genuine_vps_of_both_kinds_are_adopted() {
        local d_pid p_pid
        vs create real1 --template busybox
        vs start real1
        vs create real2 --template busybox --privileged
        vs start real2
        d_pid=$(init_pid real1)
        p_pid=$(init_pid real2)
        kill_vsd
        start_vsd_logged
        expect_eq "real1 exist running" "$(vs status real1)" "default VPS"
        expect_eq "real2 exist running" "$(vs status real2)" "privileged VPS"
        expect_eq "$d_pid" "$(init_pid real1)" "same init"
        expect_eq "$p_pid" "$(init_pid real2)" "same init"
        expect_eq real2 "$(vs exec real2 -- hostname)" "exec after adoption"
        # adopted a second time: the state a restarted vsd wrote proves it too
        kill_vsd
        start_vsd_logged
        expect_eq "real2 exist running" "$(vs status real2)" "adopted twice"
        vs stop --fast real1
        vs stop --fast real2
        expect_eq stopped "$(state_of real2)" "stop after adoption"
        vs destroy real1
        vs destroy real2
}

run_tests
