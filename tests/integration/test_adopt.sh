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
# vsd killed and started again, blind as a kernel before 6.15 leaves it
# to an adopted init's exit status (lib.sh's start_vsd_blind).
start_vsd_blind_logged() {
        rm -f "$R/run/paene/vsd.pid"
        LOG=$R/vsd-adopt.log
        : >"$LOG"
        start_vsd_blind start_vsd_logging_to "$LOG"
}

restart_vsd_blind() {
        kill_vsd
        start_vsd_blind_logged
}

reboot_mark() { echo "$R/run/paene/reboot.d/$1"; }

# The VPS name runs, and a restarted vsd adopts it.
adopt_running() {
        vs start "$1"
        wait_for 10 "vs exec $1 -- true" || fail "$1 does not run"
        restart_vsd_blind
        expect_eq "$1 exist running" "$(vs status "$1")" "adopted"
}

adopted_busybox() { # name [create options]
        vs create "$1" --template busybox "${@:2}"
        adopt_running "$1"
}

# reboot typed inside: busybox's reboot asks busybox init, which runs its
# shutdown and calls reboot(RB_AUTOBOOT); the kernel ends the init with
# SIGHUP, which only its reaper (not vsd) learns. The VPS's seccomp
# listener saw the call: vsd starts the VPS again.
expect_reboot_restarts() { # name
        local name=$1 before
        before=$(init_pid "$name")
        # (the command may die in the shutdown's SIGTERM before it returns)
        vs exec "$name" -- reboot || true
        wait_for 20 '[ "$(init_pid "$name")" != "$before" ] && [ "$(init_pid "$name")" != 0 ]' ||
                fail "no new init after reboot ($(vs status "$name"); $(cat "$LOG"))"
        expect_contains "$(cat "$LOG")" "$name rebooted itself" "vsd's log"
        wait_for 10 "vs exec $name -- true" || fail "$name does not run after the reboot"
        expect_eq "$name exist running" "$(vs status "$name")" "running again"
        [ ! -e "$(reboot_mark "$name")" ] || fail "the mark outlived the run it was for"
        vs stop "$name" --timeout "$(scaled 10)"
        expect_eq "$name exist stopped (powered off)" "$(vs status "$name")" "a clean stop after"
        vs destroy "$name"
}

test_reboot_inside_an_adopted_vps_restarts_it() {
        adopted_busybox arb
        expect_reboot_restarts arb
}

# No user namespace: the caller's CAP_SYS_BOOT is host root's, in the
# initial user namespace that owns the VPS's pid namespace.
test_reboot_inside_an_adopted_privileged_vps_restarts_it() {
        adopted_busybox prb --privileged
        expect_reboot_restarts prb
}

# poweroff -f: the command itself (not the init) calls reboot(POWER_OFF),
# through the listener of vsd's exec; the kernel ends the init with SIGINT.
# The VPS stays stopped, and vsd knows it was powered off.
test_poweroff_inside_an_adopted_vps_leaves_it_stopped() {
        adopted_busybox apo
        vs exec apo -- poweroff -f || true
        wait_for 20 '[ "$(state_of apo)" = stopped ]' || fail "apo did not stop ($(vs status apo))"
        # vsd decides in the same step that it records the stop: a stopped
        # answer means it did not start the VPS again
        expect_eq "apo exist stopped (powered off)" "$(vs status apo)" "powered off, not restarted"
        expect_not_contains "$(cat "$LOG")" "apo rebooted itself" "vsd's log"
        vs destroy apo
}

# halt typed inside: busybox init's halt is reboot(HALT), SIGINT too.
test_halt_inside_an_adopted_vps_leaves_it_stopped() {
        adopted_busybox aht
        vs exec aht -- halt || true
        wait_for 20 '[ "$(state_of aht)" = stopped ]' || fail "aht did not stop ($(vs status aht))"
        expect_eq "aht exist stopped (powered off)" "$(vs status aht)" "halted, not restarted"
        vs destroy aht
}

# The reboot while vsd is down: the listener (vsview) marks it, the init
# ends and is reaped by another; the next vsd finds it gone, the mark names
# that init, and it starts the VPS again.
test_reboot_while_vsd_is_down_restarts_the_vps_at_vsd_start() {
        local before
        vs create drb --template busybox
        vs start drb
        wait_for 10 'vs exec drb -- true' || fail "drb does not run"
        before=$(init_pid drb)
        kill_vsd
        kill -TERM "$before" # busybox init: reboot
        wait_for 20 "is_dead $before" || fail "the init did not end"
        [ -s "$(reboot_mark drb)" ] || fail "no mark of the reboot"
        start_vsd_blind_logged
        wait_for 20 '[ "$(state_of drb)" = running ]' || fail "drb not started again ($(cat "$LOG"))"
        [ "$(init_pid drb)" != "$before" ] || fail "the same init"
        wait_for 10 'vs exec drb -- true' || fail "drb does not run after the reboot"
        vs destroy --force drb
}

# A caller that lacks CAP_SYS_BOOT gets the kernel's EPERM, leaves no mark,
# and the VPS runs on; an init that then ends with nothing to tell why
# stays stopped.
test_reboot_without_cap_sys_boot_leaves_no_mark() {
        local pid
        vs create ncb --template busybox
        vs set ncb --capability sys_boot:off
        adopt_running ncb
        expect_rc 1 "reboot -f without CAP_SYS_BOOT" -- vs exec ncb -- reboot -f
        expect_eq "ncb exist running" "$(vs status ncb)" "still running"
        [ ! -e "$(reboot_mark ncb)" ] || fail "a mark for a refused reboot: $(cat "$(reboot_mark ncb)")"
        pid=$(init_pid ncb)
        kill -9 "$pid"
        wait_for 20 '[ "$(state_of ncb)" = stopped ]' || fail "ncb did not stop"
        expect_eq stopped "$(state_of ncb)" "an unexplained end: stopped"
        expect_not_contains "$(cat "$LOG")" "ncb rebooted itself" "vsd's log"
        vs destroy ncb
}

# Root of a user namespace nested inside the VPS has CAP_SYS_BOOT in its
# own namespace only, not in the one that owns the VPS's pid namespace:
# the kernel refuses its reboot(2) (EPERM), and it leaves no mark.
test_reboot_from_a_nested_user_namespace_leaves_no_mark() {
        adopted_busybox nus
        expect_rc 1 "reboot -f in a nested user namespace" -- vs exec nus -- unshare -U -r reboot -f
        expect_eq "nus exist running" "$(vs status nus)" "the VPS runs on"
        [ ! -e "$(reboot_mark nus)" ] || fail "a mark for a refused reboot: $(cat "$(reboot_mark nus)")"
        vs destroy --force nus
}

# reboot(2) in a pid namespace nested inside the VPS ends that namespace's
# init, not the VPS's: no mark, and the VPS runs on (an init of the VPS
# that then ends unexplained stays stopped).
test_reboot_in_a_nested_pid_namespace_leaves_no_mark() {
        local pid
        adopted_busybox nst
        pid=$(init_pid nst)
        vs exec nst -- unshare -p -f reboot -f || true
        expect_eq "nst exist running" "$(vs status nst)" "the VPS runs on"
        expect_eq "$pid" "$(init_pid nst)" "the same init"
        [ ! -e "$(reboot_mark nst)" ] || fail "a mark for a nested namespace's reboot"
        kill -9 "$pid"
        wait_for 20 '[ "$(state_of nst)" = stopped ]' || fail "nst did not stop"
        expect_not_contains "$(cat "$LOG")" "nst rebooted itself" "vsd's log"
        vs destroy nst
}

# A mark is for the one init it names: a stale one (an earlier run's, or
# one forged for the init) never restarts a later run that ends unexplained.
test_a_mark_of_another_init_is_not_used() {
        local pid
        adopted_busybox stm
        pid=$(init_pid stm)
        printf 'action = reboot\npid = %s\nboot_id = %s\nstarttime = 1\npidns = %s\n' \
                "$pid" "$(cat /proc/sys/kernel/random/boot_id)" "$(pidns_of "$pid")" >"$(reboot_mark stm)"
        kill -9 "$pid"
        wait_for 20 '[ "$(state_of stm)" = stopped ]' || fail "stm did not stop"
        expect_eq stopped "$(state_of stm)" "not restarted by a mark of another init"
        expect_not_contains "$(cat "$LOG")" "stm rebooted itself" "vsd's log"
        [ ! -e "$(reboot_mark stm)" ] || fail "the stale mark is left"
        vs destroy stm
}

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
