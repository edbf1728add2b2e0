#!/bin/bash
# --timeslice: the EEVDF slice (Linux 6.12+, sched_attr.sched_runtime) of
# every process of a VPS, read from the kernel's own account of each task
# (/proc/PID/sched, se.slice in ns): its init, what the init forks, what
# vsctl exec runs and what that forks; the config round trip; bad input.
# No timing here: contrib/bench/isolation.sh measures what a slice buys.
. "$(dirname "$0")/lib.sh"

# se.slice of host pid $1 (ns)
slice_of() { awk '$1 == "se.slice" {print $3}' "/proc/$1/sched"; }

# The slice a task gets from the kernel when nobody set one (this awk's own:
# the harness sets none).
default_slice() { awk '$1 == "se.slice" {print $3}' /proc/self/sched; }

init_of() { vs list -H -o pid,name | awk -v n="$1" '$2 == n {print $1}'; }

# every_task_has VPS NS: each thread of each process of the VPS has slice
# NS; prints how many it looked at
every_task_has() {
        local pid tid n=0
        for pid in $(vps_procs "$1"); do
                for tid in $(ls "/proc/$pid/task" 2>/dev/null); do
                        [ -e "/proc/$pid/task/$tid/sched" ] || continue
                        expect_eq "$2" "$(awk '$1 == "se.slice" {print $3}' "/proc/$pid/task/$tid/sched")" \
                                "slice of task $tid of $1" || return 1
                        n=$((n + 1))
                done
        done
        echo "$n"
}

# A VPS whose rc.local leaves a process behind, forked by its init's rcS.
create_with_child() {
        local name=$1
        shift
        vs create "$name" --template busybox "$@"
        mkdir -p "$(vps_dir "$name")/upper/etc"
        printf '#!/bin/sh\nsleep 600 &\n' >"$(vps_dir "$name")/upper/etc/rc.local"
        chmod 755 "$(vps_dir "$name")/upper/etc/rc.local"
}

# In the VPS: the slice of an exec'd shell, then of a child it forks.
exec_slices() {
        vs exec "$1" -- sh -c 'grep se.slice /proc/self/sched; sh -c "grep se.slice /proc/self/sched"' |
                awk '{print $3}' | tr '\n' ' '
}

test_timeslice_holds_for_the_init_what_it_forks_and_exec() {
        kernel_at_least 6 12 || skip "no per-task slices before Linux 6.12"
        create_with_child t1 --timeslice 0.1ms
        grep -q '^timeslice = 0.1ms$' "$(vps_dir t1)/config" || fail "timeslice not in config"
        vs start t1
        wait_for 10 "[ \$(vps_procs t1 | wc -l) -ge 2 ]" || fail "rc.local's child did not start"
        expect_eq 100000 "$(slice_of "$(init_of t1)")" "slice of the init"
        local n
        n=$(every_task_has t1 100000) || return 1
        [ "$n" -ge 2 ] || fail "looked at $n tasks, expected the init and its child"
        expect_eq "100000 100000 " "$(exec_slices t1)" "exec'd command and its child"
        expect_eq "0.1ms" "$(vs list -H -o timeslice t1)" "list -o timeslice"
        expect_eq "0.1ms" "$(vs list --json -o name,timeslice t1 |
                python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["timeslice"])')" "list --json"
        vs destroy --force t1
}

test_set_changes_every_process_and_survives_restarts() {
        kernel_at_least 6 12 || skip "no per-task slices before Linux 6.12"
        local def
        def=$(default_slice)
        create_with_child t2
        vs start t2
        wait_for 10 "[ \$(vps_procs t2 | wc -l) -ge 2 ]" || fail "rc.local's child did not start"
        expect_eq "$def" "$(slice_of "$(init_of t2)")" "no --timeslice: the kernel's default"
        expect_eq "default" "$(vs list -H -o timeslice t2)" "list without one"
        vs set t2 --timeslice 500us
        every_task_has t2 500000 >/dev/null || fail "set did not reach every process"
        expect_eq "500000 500000 " "$(exec_slices t2)" "exec after set"
        grep -q '^timeslice = 500us$' "$(vps_dir t2)/config" || fail "set not saved"
        # vsd dies and comes back: an exec still gets the VPS's slice
        kill -9 "$(vsd_pid)"
        wait_for 5 "! kill -0 $(vsd_pid) 2>/dev/null"
        start_vsd
        expect_eq "500000 500000 " "$(exec_slices t2)" "exec after vsd's restart"
        vs stop --fast t2
        vs start t2
        expect_eq 500000 "$(slice_of "$(init_of t2)")" "at the next start"
        vs set t2 --timeslice default
        every_task_has t2 "$def" >/dev/null || fail "default did not reach every process"
        grep -q '^timeslice = default$' "$(vps_dir t2)/config" || fail "default not saved"
        vs set t2 --no-save --timeslice 2ms
        expect_eq 2000000 "$(slice_of "$(init_of t2)")" "--no-save changes the running VPS"
        grep -q '^timeslice = default$' "$(vps_dir t2)/config" || fail "--no-save saved"
        vs destroy --force t2
}

test_bad_timeslices_are_refused_and_change_nothing() {
        local bad
        for bad in 0.05ms 101ms 0 1 fast -1ms 0.1234ms 1e3us " 1ms" 1ms/2 ""; do
                expect_rc 2 "--timeslice '$bad'" -- vs create b1 --template busybox --timeslice "$bad"
                expect_contains "$ERR" "--timeslice" "message names the option ($bad)"
                expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line ($bad)"
        done
        expect_eq "" "$(ls "$R/var/lib/paene/vps")" "nothing created"
        kernel_at_least 6 12 || return 0
        vs create b1 --template busybox --timeslice 1ms
        vs start b1
        cp "$(vps_dir b1)/config" "$R/config.before"
        expect_rc 2 "set below the kernel's range" -- vs set b1 --timeslice 50us
        expect_contains "$ERR" "0.1ms" "message gives the range"
        cmp -s "$(vps_dir b1)/config" "$R/config.before" || fail "config changed"
        expect_eq 1000000 "$(slice_of "$(init_of b1)")" "the init's slice unchanged"
        vs destroy --force b1
}

test_a_kernel_without_per_task_slices_refuses_them() {
        kernel_at_least 6 12 && skip "this kernel has per-task slices"
        expect_rc 4 "create --timeslice" -- vs create k1 --template busybox --timeslice 1ms
        expect_contains "$ERR" "6.12" "message says which kernel has them"
        expect_eq "" "$(ls "$R/var/lib/paene/vps")" "nothing created"
        # default is no slice of its own: any kernel takes it
        vs create k1 --template busybox --timeslice default
        vs destroy k1
}

run_tests
