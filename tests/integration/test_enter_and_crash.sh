#!/bin/bash
# An interactive terminal through vsctl enter, and vsd's crash safety: killed
# with SIGKILL while VPS run, a new vsd adopts them and manages them as before.
. "$(dirname "$0")/lib.sh"

test_enter_gives_a_working_terminal() {
        vs create tty1 --template busybox
        vs start tty1
        python3 "$TOP/tests/integration/pty_drive.py" "$BIN/vsctl" "$R" tty1
        vs destroy --force tty1
}

test_exec_tty_flag_after_name() {
        vs create tty2 --template busybox
        vs start tty2
        # script(1) feeds its pty a control byte when its own stdin ends,
        # which the VPS's terminal echoes as "^@": that is script's, not ours
        expect_eq "/dev/pts/0" "$(script -qec "$BIN/vsctl --root $R exec tty2 -t -- tty" /dev/null </dev/null |
                tr -d '\r' | sed 's/^\^@//')" "exec -t"
        expect_rc 1 "tty without -t" -- vs exec tty2 -- tty
        expect_eq "not a tty" "$OUT" "exec without -t"
        vs destroy --force tty2
}

pid_of() { vs list -a -H -o name,pid | awk -v n="$1" '$1 == n {print $2}'; }

test_sigkill_of_vsd_with_10_vps_running() {
        local i pids_before pids_after
        for i in $(seq 0 9); do
                vs create k$i --template busybox
                vs start k$i
        done
        pids_before=$(vs list -H -o name,pid | grep '^k' | sort)
        local vsd
        vsd=$(vsd_pid)
        kill -9 "$vsd"
        wait_for 10 "is_dead $vsd" || fail "vsd did not die"
        # the VPS do not notice: each init is still there
        for i in $(seq 0 9); do
                kill -0 "$(echo "$pids_before" | awk -v n="k$i" '$1 == n {print $2}')" ||
                        fail "k$i died with vsd"
        done
        expect_rc 6 "vsctl while vsd is down" -- vs list
        start_vsd
        pids_after=$(vs list -H -o name,pid | grep '^k' | sort)
        expect_eq "$pids_before" "$pids_after" "same VPS, same inits after restart"
        for i in $(seq 0 9); do
                expect_eq "k$i exist running" "$(vs status k$i)" "status k$i"
                expect_eq "k$i" "$(vs exec k$i -- hostname)" "exec k$i"
        done
        # exec into an adopted VPS joins its user namespace: root there is
        # the VPS's own id on the host, never the host's root
        expect_eq "0 $(sed -n 's/^id_base = //p' "$(vps_dir k3)/config") 65536" \
                "$(vs exec k3 -- cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')" \
                "uid map of a process exec'd after adoption"
        local bnd
        bnd=$(vs exec k3 -- grep CapBnd /proc/self/status)
        [[ "$bnd" =~ ^CapBnd:[[:space:]]+([0-9a-f]{16})$ ]] || fail "CapBnd line: $bnd"
        bnd=$((0x${BASH_REMATCH[1]}))
        [ $((bnd & (1 << 16))) -eq 0 ] || fail "sys_module in the bounding set after adoption"
        [ $((bnd & (1 << 13))) -ne 0 ] || fail "control: net_raw, of the default set, is missing"
        vs stop --fast k0
        expect_eq stopped "$(state_of k0)" "stop after adoption"
        vs stop k1
        expect_eq stopped "$(state_of k1)" "clean stop after adoption"
        vs destroy --force k2
        [ ! -e "$(vps_dir k2)" ] || fail "destroy after adoption"
        vs start k0
        expect_eq running "$(state_of k0)" "start again after adoption"
        for i in $(seq 0 9); do
                vs destroy --force k$i
        done
}

test_vps_that_ends_while_vsd_is_down_is_marked_stopped() {
        local d pid
        vs create gone1 --template busybox
        vs start gone1
        pid=$(pid_of gone1)
        local vsd
        vsd=$(vsd_pid)
        kill -9 "$vsd"
        wait_for 10 "is_dead $vsd" || fail "vsd did not die"
        kill -9 "$pid"
        wait_for 10 "is_dead $pid" || fail "init did not die"
        start_vsd
        expect_eq stopped "$(state_of gone1)" "state after restart"
        for d in $(cgroup_dirs); do
                [ ! -e "$d/default/gone1" ] || fail "cgroup $d/default/gone1 left"
        done
        vs start gone1
        expect_eq running "$(state_of gone1)" "starts again"
        vs destroy --force gone1
}

test_interrupted_create_and_destroy_are_finished_on_restart() {
        # what a crash half way through create or destroy leaves behind
        mkdir -p "$R/var/lib/paene/vps/.half1.creating/upper"
        mkdir -p "$R/var/lib/paene/vps/.half2.destroying/upper/etc"
        stop_vsd
        start_vsd
        got=$(ls -A "$R/var/lib/paene/vps" | lines_matching half)
        expect_eq "" "$got" "leftovers removed"
        got=$(vs list -a -H -o name | lines_matching half)
        expect_eq "" "$got" "never listed"
}

# many_files VPS N: N empty files in the VPS's own layer, whose removal is
# the part of a destroy that grows with the VPS
many_files() {
        python3 -c 'import os, sys
d = sys.argv[1]
os.makedirs(d)
for i in range(int(sys.argv[2])):
    open(os.path.join(d, str(i)), "w").close()' "$(vps_dir "$1")/upper/many" "$2"
}

test_destroy_answers_before_the_files_go_and_frees_the_name_at_once() {
        vs create big1 --template busybox
        many_files big1 30000
        vs destroy big1
        # in vsd's loop, the removal of 30000 files ended before the reply
        [ -n "$(doomed_entries big1)" ] || fail "destroy answered after its files went"
        [ ! -e "$(vps_dir big1)" ] || fail "the VPS's directory is still there"
        expect_eq "" "$(vs list -a -H -o name | lines_matching '^big1$')" "destroyed, not listed"
        # the name is free at once, also for a second destroy while the first's files go
        vs create big1 --template busybox
        many_files big1 100
        vs destroy big1
        doomed_entries_go || fail "files of a destroyed VPS left: $(doomed_entries)"
}

# The rename that dooms a VPS's directory is made durable by the remover
# before it removes a file of it (an fsync of the VPS directory, then the
# unlinks), not in vsd's loop before the reply, where it waited behind
# the journal's commit of a stopped VPS's overlay sync.
test_the_remover_syncs_the_doomed_rename_before_it_removes() {
        local remover spid log=$R/remover.strace first
        vs create sy1 --template busybox --ipadd none >/dev/null
        remover=$(pgrep -P "$(vsd_pid)" -x vsd-trash)
        [ -n "$remover" ] || fail "no remover beside vsd"
        strace -qq -y -e trace=fsync,unlinkat -o "$log" -p "$remover" &
        spid=$!
        wait_for 10 'grep -q "^TracerPid:[[:space:]]*$spid$" /proc/$remover/status' ||
                fail "strace did not attach"
        vs destroy sy1
        doomed_entries_go || fail "files of a destroyed VPS left: $(doomed_entries)"
        kill "$spid"
        wait "$spid" || :
        first=$(grep -m1 -oE '^(fsync|unlinkat)\([0-9]+<[^>]*>' "$log" || true)
        expect_eq "fsync" "${first%%(*}" "the remover's first call on the entry"
        expect_contains "$first" "<$R/var/lib/paene/vps>" "the fsync is of the VPS directory"
}

test_files_of_a_destroy_a_crash_interrupted_go_with_the_next_vsd() {
        local vsd
        vs create big2 --template busybox
        many_files big2 30000
        vsd=$(vsd_pid)
        vs destroy big2
        kill -9 "$vsd"
        wait_for 10 "is_dead $vsd" || fail "vsd did not die"
        [ -n "$(doomed_entries big2)" ] || fail "no doomed entry: the crash came too late to test"
        start_vsd
        expect_eq "" "$(vs list -a -H -o name | lines_matching '^big2$')" "destroyed, not listed again"
        doomed_entries_go || fail "files of the interrupted destroy left: $(doomed_entries)"
        vs create big2 --template busybox
        vs destroy big2
}

test_after_destroy_nothing_is_left() {
        local d pids pid
        vs create clean1 --template busybox
        vs start clean1
        # exec returns when its command exits, not when background children do
        vs exec clean1 -- sh -c 'sleep 100 & sleep 100 &'
        pids=$(vps_procs clean1)
        expect_eq 3 "$(echo "$pids" | wc -l)" "init and two sleeps in the VPS's cgroup"
        vs destroy --force clean1
        for pid in $pids; do
                is_dead "$pid" || fail "process $pid of the VPS left"
        done
        lacks "$R/var/lib/paene/vps" /proc/self/mountinfo || fail "mount left"
        vs list >/dev/null # the cgroups go with the stop's waiting work
        for d in $(cgroup_dirs); do
                [ ! -e "$d/default/clean1" ] || fail "cgroup left: $d/default/clean1"
        done
        [ ! -e "$(vps_dir clean1)" ] || fail "directory left"
}

test_vsd_exit_removes_its_cgroup_tree() {
        local d name
        # the tree can only go when no VPS is left in it
        for name in $(vs list -a -H -o name); do
                vs destroy --force "$name"
        done
        stop_vsd
        for d in $(cgroup_dirs); do
                [ ! -e "$d" ] || fail "cgroup tree left after vsd exit: $d"
        done
        start_vsd
}

# The console keepers of this file's vsd: pid and parent, one a line.
keepers() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = vsd-console ] || continue
                case "$(proc_cmdline "$p")" in *"$R"*) awk '{print $1, $4}' "$p/stat" ;; esac
        done
        return 0
}
# The one that serves (the guard's child; the guard waits for it).
keeper_server() {
        local k
        k=$(keepers)
        # one pass over a here-string: the v2 VM's fresh /dev has no /dev/fd
        # for <(...)
        awk '{pid[$1] = 1; parent[$1] = $2} END {for (p in parent) if (parent[p] in pid) print p}' \
                <<<"$k"
}

# A busybox VPS with a root shell on its console (no getty in the template).
console_vps() {
        vs create "$1" --template busybox
        mkdir -p "$(vps_dir "$1")/upper/etc"
        printf '::sysinit:/etc/init.d/rcS\n::respawn:-/bin/sh\n' >"$(vps_dir "$1")/upper/etc/inittab"
        vs start "$1"
}

# One keeper process serves every VPS's console (two: it and its guard),
# however many VPS run. It stays while its vsd runs, also without a
# console, so that the next start finds it (a keeper started for it cost a
# start 3 ms), and goes with a vsd that stops with no VPS running.
test_one_keeper_serves_every_console() {
        local i before
        for i in 0 1 2 3; do
                vs create kc$i --template busybox
                vs start kc$i
        done
        for i in 0 1 2 3; do
                wait_for 10 "vs logs kc$i | grep -q 'kc$i booting'" || fail "no boot line in kc$i's log"
        done
        expect_eq 2 "$(keepers | wc -l)" "keeper processes for 4 consoles"
        expect_eq 1 "$(keeper_server | wc -l)" "one keeper serves, its guard waits"
        before=$(keepers | sort)
        for i in 0 1 2 3; do
                vs destroy --force kc$i
        done
        vs create kc4 --template busybox
        vs start kc4
        wait_for 10 "vs logs kc4 | grep -q 'kc4 booting'" || fail "no boot line in kc4's log"
        expect_eq "$before" "$(keepers | sort)" "the keepers of the next console, after the last ended"
        vs destroy --force kc4
        stop_vsd
        expect_eq "" "$(keepers)" "keepers left once vsd stopped with no VPS"
        start_vsd
}

# The console goes on across a vsd killed while attached, a new vsd, and a
# keeper killed: the guard starts a new one on the same ptys.
test_console_outlives_vsd_and_a_killed_keeper() {
        local server new
        console_vps kv1
        python3 "$TOP/tests/integration/console_drive.py" "$BIN/vsctl" "$R" kv1 unused \
                "$R/run/paene/vsd.pid"
        rm -f "$R/run/paene/vsd.pid"
        start_vsd
        expect_contains "$(vs logs kv1)" "without-vsd-42" "logged while vsd was down"
        python3 "$TOP/tests/integration/console_drive.py" "$BIN/vsctl" "$R" kv1 unused
        server=$(keeper_server)
        [ -n "$server" ] || fail "no keeper serves: $(keepers)"
        kill -9 "$server"
        wait_for 10 'new=$(keeper_server); [ -n "$new" ] && [ "$new" != "$server" ]' ||
                fail "no new keeper after $server was killed: $(keepers)"
        vs exec kv1 -- sh -c 'echo after-the-keeper-$((6*7)) >/dev/console'
        wait_for 10 'vs logs kv1 | grep -q after-the-keeper-42' ||
                fail "the console's log lost the VPS after the keeper was killed"
        python3 "$TOP/tests/integration/console_drive.py" "$BIN/vsctl" "$R" kv1 unused
        vs destroy --force kv1
        wait_for 10 '[ -z "$(keepers)" ]' || fail "keepers left: $(keepers)"
}

run_tests
