#!/bin/bash
# The VPS lifecycle through vsctl: create, start, stop, restart, destroy,
# status, list, logs, templates, and what a VPS sees of its namespaces.
. "$(dirname "$0")/lib.sh"

test_create_makes_a_stopped_vps() {
        vs create c1 --template busybox --hostname c1.example
        expect_eq "c1 exist stopped" "$(vs status c1)" "status"
        expect_eq "c1" "$(vs list -a -H -o name | grep -x c1)" "list -a"
        got=$(vs list -H -o name | lines_matching -x c1)
        expect_eq "" "$got" "list shows running only"
        [ -d "$(vps_dir c1)/upper" ] || fail "no upper layer"
        grep -q '^hostname = c1.example$' "$(vps_dir c1)/config" || fail "hostname not in config"
        vs destroy c1
}

test_create_refuses_bad_input_and_changes_nothing() {
        expect_rc 2 "uppercase name" -- vs create Web1 --template busybox
        expect_contains "$ERR" "'W'" "message names the bad character"
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_rc 2 "no template" -- vs create c2
        expect_contains "$ERR" "--template" "message names the missing option"
        expect_rc 3 "unknown template" -- vs create c2 --template nosuch
        expect_contains "$ERR" "vsctl: create c2: no such template 'nosuch'" "message"
        expect_rc 2 "bad hostname" -- vs create c2 --template busybox --hostname 'a b'
        got=$(ls "$R/var/lib/paene/vps")
        expect_eq "" "$got" "nothing created"
        vs create c2 --template busybox
        expect_rc 4 "duplicate" -- vs create c2 --template busybox
        expect_eq "vsctl: create c2: VPS already exists" "$ERR" "message"
        vs destroy c2
}

test_start_and_stop() {
        vs create s1 --template busybox
        vs start s1
        expect_eq "s1 exist running" "$(vs status s1)" "status after start"
        expect_rc 4 "second start" -- vs start s1
        expect_eq "vsctl: start s1: VPS is already running" "$ERR" "message"
        vs stop s1
        expect_eq "s1 exist stopped (powered off)" "$(vs status s1)" "busybox init powers off"
        expect_rc 4 "stop of a stopped VPS" -- vs stop s1
        expect_rc 3 "start of nothing" -- vs start nosuch
        expect_eq "vsctl: start nosuch: no such VPS" "$ERR" "message"
        vs destroy s1
}

# A stop removes the VPS's cgroups before it answers, with what its init
# made below them (as systemd does): vsd tries the VPS's own cgroup first and
# walks the subtree only when that is refused.
test_stop_removes_the_cgroups_and_what_the_init_made_below() {
        local d had=
        vs create cg1 --template busybox
        vs start cg1
        # the hierarchies where vsd made the VPS a cgroup; on the first of
        # them a subtree as an init makes one, on the others none: both ways
        for d in $(cgroup_dirs); do
                [ -d "$d/default/cg1" ] || continue
                [ -n "$had" ] || mkdir -p "$d/default/cg1/init.scope/deeper"
                had="$had $d"
        done
        [ -n "$had" ] || fail "the running VPS has no cgroup to look at"
        vs stop --fast cg1
        # their removal waits for an idle moment, or a request that needs
        # the stop's work done, such as a status (test_stoplater.sh)
        expect_eq stopped "$(state_of cg1)" "cg1 after its stop"
        for d in $had; do
                [ ! -e "$d/default/cg1" ] || fail "cgroup left after stop: $d/default/cg1"
        done
        vs start cg1
        expect_eq "cg1 exist running" "$(vs status cg1)" "a start after makes them afresh"
        vs destroy --force cg1
}

# A process that joined the VPS's cgroups from outside its pid namespace
# (the init's exit does not take it): the rmdir after the stop is refused,
# then the cgroup is killed, and it is gone with the stop's waiting work
# (a status finds it done), with the process.
test_a_process_in_the_cgroup_from_outside_is_killed_after_the_stop() {
        local d v2= sleeper
        vs create dk1 --template busybox
        vs start dk1
        for d in $(cgroup_dirs); do
                case $d in */unified/*) [ -d "$d/default/dk1" ] && v2=$d/default/dk1 ;; esac
        done
        [ -n "$v2" ] || v2=$(cgroup_dirs | head -1)/default/dk1
        [ -f "$v2/cgroup.kill" ] || fail "no cgroup.kill in $v2 (a kernel before 5.14)"
        sleep 600 &
        sleeper=$!
        disown # its SIGKILL is the test's, not news
        echo "$sleeper" >"$v2/cgroup.procs" || fail "move a host process into $v2"
        vs stop --fast dk1
        expect_eq stopped "$(state_of dk1)" "dk1 after its stop"
        [ ! -e "$v2" ] || fail "$v2 left after the stop and a status"
        wait_for 10 "is_dead $sleeper" || fail "the process in dk1's cgroup outlived the stop"
        vs destroy dk1
}

# The init's mount namespace outlives its exit in the releaser (vsd-release,
# which lets go once the init is gone), so that the init's exit, which a stop
# waits for, does not take its mounts apart: traced, the releaser receives a
# descriptor of that namespace and closes it; a start after works.
test_the_mount_namespace_of_a_stopped_init_goes_in_the_releaser() {
        local pid ns rel sp
        command -v strace >/dev/null || fail "strace is needed"
        vs create mr1 --template busybox
        vs start mr1
        pid=$(vs status mr1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
        ns=$(readlink "/proc/$pid/ns/mnt")
        rel=$(pgrep -P "$(vsd_pid)" -x vsd-release) || fail "no vsd-release"
        strace -yy -p "$rel" -o "$R/rel.trace" -e trace=recvmsg,close 2>"$R/rel.log" &
        sp=$!
        wait_for 10 "grep -q attached '$R/rel.log' 2>/dev/null" || fail "strace did not attach"
        vs stop --fast mr1
        wait_for 10 "grep -qF '<$ns>)' '$R/rel.trace'" ||
                fail "the releaser closed no descriptor of $ns: $(cat "$R/rel.trace")"
        kill -INT "$sp" 2>/dev/null
        wait "$sp" 2>/dev/null || true
        vs start mr1
        expect_eq "mr1 exist running" "$(vs status mr1)" "a start after the release"
        vs destroy --force mr1
}

# trace_vsd FILE CMD...: CMD with vsd's own process under strace (its
# rmdirs and unlinks) into FILE
trace_vsd() {
        local out=$1 sp
        shift
        strace -p "$(vsd_pid)" -o "$out" -e trace=rmdir,unlinkat 2>"$out.log" &
        sp=$!
        wait_for 10 "grep -q attached '$out.log' 2>/dev/null" || fail "strace did not attach: $(cat "$out.log")"
        "$@"
        kill -INT "$sp" 2>/dev/null
        wait "$sp" 2>/dev/null || true
}

# Neither a stop nor the destroy after it removes the VPS's cgroups before
# its answer (an rmdir on every hierarchy): that waits for an idle moment
# (held here until a request needs it), and the request's trace shows what
# the checks look for.
test_a_stop_and_its_destroy_leave_the_cgroup_trees_alone() {
        command -v strace >/dev/null || fail "strace is needed"
        stop_vsd
        VSD_TEST_LATER_MS=60000 start_vsd || fail "vsd did not start"
        vs create dc1 --template busybox
        vs start dc1
        trace_vsd "$R/stop.trace" vs stop --fast dc1
        expect_eq "" "$(grep -F '/dc1", AT_REMOVEDIR' "$R/stop.trace")" \
                "rmdirs of dc1's cgroups in its stop"
        trace_vsd "$R/destroy.trace" vs destroy dc1
        expect_eq "" "$(grep -F '/dc1", AT_REMOVEDIR' "$R/destroy.trace")" \
                "rmdirs of dc1's cgroups in its destroy"
        trace_vsd "$R/list.trace" vs list -a -H -o name
        expect_contains "$(cat "$R/list.trace")" '"default/dc1", AT_REMOVEDIR' \
                "the rmdir of dc1's cgroups before a list's answer"
        expect_eq "" "$(vs list -a -H -o name | grep -x dc1)" "dc1 after its destroy"
        stop_vsd
        start_vsd || fail "vsd did not start again"
}

# A stop that could not remove a cgroup (a process of the host's in it, on a
# hierarchy without cgroup.kill) leaves it to the destroy, which removes it
# once the process is gone.
test_a_cgroup_the_stop_could_not_remove_goes_at_the_destroy() {
        local d v1= sleeper
        vs create dc2 --template busybox
        vs start dc2
        for d in $(cgroup_dirs); do
                case $d in */unified/* | */memory/*) continue ;; esac
                # a v1 hierarchy's (cgroup2 has cgroup.kill for all)
                [ "$(stat -f -c %T "$d")" = cgroupfs ] || continue
                [ -d "$d/default/dc2" ] && v1=$d/default/dc2 && break
        done
        [ -n "$v1" ] || skip "no cgroup v1 hierarchy here (on cgroup v2 the stop kills every process of the VPS's cgroup)"
        sleep 600 &
        sleeper=$!
        echo "$sleeper" >"$v1/cgroup.procs" || fail "move a host process into $v1"
        vs stop --fast dc2
        [ -d "$v1" ] || fail "$v1 went while a process was in it"
        kill "$sleeper"
        wait "$sleeper" 2>/dev/null || true
        vs destroy dc2
        vs list >/dev/null # a request that needs the stop's waiting work done
        for d in $(cgroup_dirs); do
                [ ! -e "$d/default/dc2" ] || fail "cgroup left after destroy: $d/default/dc2"
        done
}

test_init_is_pid_1_and_host_processes_are_invisible() {
        local marker ps_out
        vs create p1 --template busybox
        vs start p1
        marker="paene-marker-$$-$RANDOM"
        (exec -a "$marker" sleep 60) &
        local sleeper=$!
        ps_out=$(vs exec p1 -- ps -o pid,args)
        kill "$sleeper"
        expect_contains "$(echo "$ps_out" | awk '$1 == 1')" "init" "pid 1 inside"
        expect_not_contains "$ps_out" "$marker" "host process visible"
        [ "$(echo "$ps_out" | wc -l)" -lt 6 ] || fail "too many processes: $ps_out"
        # pid 1 inside is the init vsd started on the host
        expect_eq "$(vs status p1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')" \
                "$(vs list -H -o pid | head -1 | tr -d ' ')" "pid in status and list"
        vs destroy --force p1
}

test_hostname_uts_and_ipc_are_private() {
        vs create h1 --template busybox --hostname h1.example.net
        vs start h1
        expect_eq "h1.example.net" "$(vs exec h1 -- hostname)" "hostname"
        [ "$(hostname)" != "h1.example.net" ] || fail "host hostname changed"
        vs exec h1 -- hostname changed-inside
        expect_eq "changed-inside" "$(vs exec h1 -- hostname)" "hostname set inside"
        [ "$(hostname)" != "changed-inside" ] || fail "hostname leaked to the host"
        local pid inside outside
        pid=$(vs list -H -o pid,name | awk '$2 == "h1" {print $1}')
        [ -n "$pid" ] || fail "no pid for h1"
        for ns in pid mnt uts ipc net cgroup; do
                # each read checked: an unreadable link must not pass as "differs"
                inside=$(readlink "/proc/$pid/ns/$ns")
                outside=$(readlink "/proc/self/ns/$ns")
                expect_contains "$inside" "$ns:[" "$ns namespace of h1's init"
                [ "$inside" != "$outside" ] || fail "$ns namespace shared with the host"
        done
        vs destroy --force h1
}

# A VPS name may hold '_', a hostname may not (RFC 1123): the default
# hostname is the name with '_' made '-', so such a VPS starts.
test_default_hostname_of_a_name_with_underscore() {
        vs create web_1 --template busybox
        expect_eq "web-1" "$(vs status web_1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hostname"])')" \
                "hostname in status"
        vs start web_1
        expect_eq "web-1" "$(vs exec web_1 -- hostname)" "hostname inside"
        vs destroy --force web_1
}

# The VPS's /etc/hostname and /etc/hosts name it also without a network: a
# template's own (debootstrap copies the build host's /etc/hostname) would
# otherwise be what systemd sets as the hostname at boot.
test_etc_hostname_is_the_vps_own_without_a_network() {
        local up
        vs create nn1 --template busybox --ipadd none --hostname nn1.example
        up=$(vps_dir nn1)/upper
        mkdir -p "$up/etc"
        echo buildhost >"$up/etc/hostname"
        printf '127.0.0.1\tlocalhost\n127.0.1.1\tbuildhost\n' >"$up/etc/hosts"
        # as the template's files are: the VPS root's
        chown --reference="$up" "$up/etc" "$up/etc/hostname" "$up/etc/hosts"
        vs start nn1
        expect_eq "nn1.example" "$(vs exec nn1 -- cat /etc/hostname)" "/etc/hostname"
        expect_eq "nn1.example" "$(vs exec nn1 -- hostname)" "hostname"
        expect_contains "$(vs exec nn1 -- cat /etc/hosts)" "127.0.1.1	nn1.example nn1" "/etc/hosts names it"
        expect_not_contains "$(vs exec nn1 -- cat /etc/hosts)" "buildhost" "no build host"
        expect_eq "lo" "$(vs exec nn1 -- ls /sys/class/net | xargs)" "still no network"
        vs destroy --force nn1
}

# vsd writes /etc/hostname and /etc/hosts at each start, as the config
# names the VPS: a file that already says so is left as it is (the same
# file: a reader inside keeps it open across restarts; no file is made and
# none freed in the layer), one that says something else, or that its root
# changed the mode of, is written anew.
test_etc_files_kept_when_they_say_it_and_rewritten_when_not() {
        local up ino_name ino_hosts
        vs create ek1 --template busybox --ipadd none --hostname ek1.example
        vs start ek1
        up=$(vps_dir ek1)/upper/etc
        ino_name=$(stat -c %i "$up/hostname")
        ino_hosts=$(stat -c %i "$up/hosts")
        vs stop --fast ek1
        vs start ek1
        expect_eq "$ino_name" "$(stat -c %i "$up/hostname")" "/etc/hostname's inode after a restart"
        expect_eq "$ino_hosts" "$(stat -c %i "$up/hosts")" "/etc/hosts' inode after a restart"
        expect_eq "ek1.example" "$(vs exec ek1 -- cat /etc/hostname)" "/etc/hostname"
        # its root's own change of the mode: vsd's file again at the next start
        vs exec ek1 -- chmod 600 /etc/hosts
        vs stop --fast ek1
        vs start ek1
        expect_eq "644" "$(stat -c %a "$up/hosts")" "/etc/hosts' mode, its root's chmod undone"
        vs stop --fast ek1
        vs set ek1 --hostname ek2.example >/dev/null
        vs start ek1
        expect_eq "ek2.example" "$(vs exec ek1 -- cat /etc/hostname)" "/etc/hostname after a new name"
        expect_contains "$(vs exec ek1 -- cat /etc/hosts)" "127.0.1.1	ek2.example ek2" "/etc/hosts after a new name"
        vs destroy --force ek1
}

test_network_has_loopback_and_eth0_up() {
        vs create n1 --template busybox
        vs start n1
        expect_eq "eth0 lo" "$(vs exec n1 -- ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')" \
                "interfaces"
        # IFF_UP | IFF_LOOPBACK
        expect_eq "0x9" "$(vs exec n1 -- cat /sys/class/net/lo/flags)" "lo flags"
        expect_contains "$(vs exec n1 -- ping -c 1 -W 2 127.0.0.1)" "1 packets received" "ping lo"
        vs destroy --force n1
}

test_filesystems_proc_sys_dev() {
        local mounts
        vs create f1 --template busybox
        vs start f1
        mounts=$(vs exec f1 -- cat /proc/mounts)
        expect_contains "$mounts" "overlay / overlay" "root is overlay"
        expect_contains "$(echo "$mounts" | awk '$2 == "/sys"')" "ro," "sys read-only"
        expect_contains "$(echo "$mounts" | awk '$2 == "/proc"')" "proc" "proc mounted"
        expect_contains "$(echo "$mounts" | awk '$2 == "/dev/pts"')" "ptmxmode=666" "devpts"
        expect_rc 1 "write to /sys" -- vs exec f1 -- sh -c 'echo x > /sys/kernel/uevent_helper'
        for node in null zero full random urandom tty console ptmx; do
                vs exec f1 -- test -e /dev/$node || fail "/dev/$node missing"
        done
        got=$(vs exec f1 -- ls /dev | lines_matching -E '^(sd|vd|nvme|loop|mem|kmsg)')
        expect_eq "" "$got" \
                "no host devices"
        got=$(vs exec f1 -- sh -c 'head -c 4 /dev/zero | od -An -tu1 | tr -d " \n" | cut -c1')
        expect_eq "0" "$got" "zero"
        # the host's mount table does not show the VPS's root
        lacks "$(vps_dir f1)/rootfs" /proc/self/mountinfo || fail "VPS mount visible on the host"
        vs destroy --force f1
}

# /dev/shm is /run's tmpfs (no superblock of its own: each costs a slot
# in every memory cgroup of the host), writable by all, without exec,
# suid or devices.
test_dev_shm_is_a_directory_of_run() {
        local shm
        vs create sh1 --template busybox
        vs start sh1
        shm=$(vs exec sh1 -- awk '$2 == "/dev/shm"' /proc/mounts)
        expect_contains "$shm" "tmpfs" "/dev/shm is tmpfs"
        expect_contains "$shm" "nosuid,nodev,noexec" "/dev/shm's flags"
        expect_eq "$(vs exec sh1 -- stat -c %d /run)" "$(vs exec sh1 -- stat -c %d /dev/shm)" \
                "/dev/shm on /run's file system"
        expect_eq "1777" "$(vs exec sh1 -- stat -c %a /dev/shm)" "/dev/shm's mode"
        vs exec sh1 -- sh -c 'echo in-shm >/dev/shm/x'
        expect_eq "in-shm" "$(vs exec sh1 -- cat /run/shm/x)" "a file of /dev/shm is in /run/shm"
        vs destroy --force sh1
}

# The file systems of a VPS's own (superblocks no other VPS has, read from
# mountinfo), each a slot in every memory cgroup of the host: its overlay,
# one tmpfs for /dev and /run (mounted by vsd for the device nodes, /run a
# directory of it bound without devices), its /proc, /sys, devpts and its
# ipc namespace's mqueue; and no other. The masks' empty tmpfs (size 0)
# is left out: it is one for all VPS where the kernel copies vsd's mount
# of it, and each VPS's own where it cannot (6.1).
own_superblocks() { # vps other
        vs exec "$2" -- cat /proc/self/mountinfo | awk '{print $3}' | sort -u >"$R/other.sb"
        vs exec "$1" -- cat /proc/self/mountinfo |
                awk '{for (i = 7; $i != "-"; i++);
                      if ($(i + 1) == "tmpfs" && $(i + 3) ~ /(^|,)size=0k(,|$)/) next
                      print $3, $(i + 1)}' | sort -u |
                awk 'NR == FNR {seen[$1] = 1; next} !($1 in seen) {print $2}' "$R/other.sb" - |
                LC_ALL=C sort
        rm -f "$R/other.sb"
}

test_dev_and_run_are_one_tmpfs_and_no_other_superblock_is_the_vps_own() {
        local run dev
        vs create sb1 --template busybox
        vs create sb2 --template busybox
        vs start sb1
        vs start sb2
        expect_eq "devpts
mqueue
overlay
proc
sysfs
tmpfs" "$(own_superblocks sb1 sb2)" "the superblocks of a VPS's own"
        expect_eq "$(vs exec sb1 -- stat -c %d /dev)" "$(vs exec sb1 -- stat -c %d /run)" \
                "/dev and /run on one file system"
        run=$(vs exec sb1 -- awk '$5 == "/run" {print $4, $6}' /proc/self/mountinfo)
        dev=$(vs exec sb1 -- awk '$5 == "/dev" {print $4, $6}' /proc/self/mountinfo)
        expect_eq "/run rw,nosuid,nodev,relatime" "$run" "/run: its directory, without devices"
        expect_eq "/dev rw,nosuid,noexec,relatime" "$dev" "/dev: its directory, with devices"
        # the VPS's root owns both, and what it writes to one is not in the other
        expect_eq "0 0" "$(vs exec sb1 -- stat -c '%u %g' /run)" "/run is the VPS root's"
        expect_eq "0 0" "$(vs exec sb1 -- stat -c '%u %g' /dev)" "/dev is the VPS root's"
        vs exec sb1 -- sh -c 'echo r >/run/r-file; echo d >/dev/d-file'
        expect_rc 1 "/run's file seen in /dev" -- vs exec sb1 -- test -e /dev/r-file
        expect_rc 1 "/dev's file seen in /run" -- vs exec sb1 -- test -e /run/d-file
        expect_eq "$(vs exec sb1 -- ls -a /run/systemd)" ".
..
container" "/run/systemd/container"
        # the VPS's root cannot unmount /run (to reach the tmpfs's root) nor
        # let devices through it
        vs exec sb1 -- mount -o remount,bind,dev /run 2>/dev/null || true
        expect_contains "$(vs exec sb1 -- awk '$5 == "/run" {print $6}' /proc/self/mountinfo)" \
                "nodev" "/run stays without devices"
        expect_rc 1 "umount /run" -- vs exec sb1 -- umount /run
        expect_eq "$(vs exec sb1 -- stat -c %d /dev)" "$(vs exec sb1 -- stat -c %d /run)" \
                "/run still mounted"
        expect_eq "0" "$(vs exec sb1 -- sh -c 'head -c 1 /dev/zero | od -An -tu1 | tr -d " "')" \
                "/dev/zero"
        vs destroy --force sb1
        vs destroy --force sb2
}

test_overlay_keeps_template_and_neighbours_untouched() {
        vs create o1 --template busybox
        vs create o2 --template busybox
        vs start o1
        vs start o2
        vs exec o1 -- sh -c 'echo secret-o1 > /root/mine; rm /etc/shells'
        expect_eq "secret-o1" "$(cat "$(vps_dir o1)/upper/root/mine")" "write lands in upper"
        [ ! -e "$(tmpl_dir busybox)/rootfs/root/mine" ] || fail "write reached the template"
        [ -e "$(tmpl_dir busybox)/rootfs/etc/shells" ] || fail "delete reached the template"
        expect_rc 1 "o2 sees o1's file" -- vs exec o2 -- cat /root/mine
        vs exec o2 -- test -e /etc/shells || fail "o2 lost a template file"
        vs destroy --force o1
        vs destroy --force o2
}

test_exec_exit_codes_and_stdio() {
        local big sum_in sum_out
        vs create e1 --template busybox
        vs start e1
        expect_rc 7 "exit status" -- vs exec e1 -- sh -c 'exit 7'
        expect_rc 0 "true" -- vs exec e1 -- true
        expect_rc 127 "missing command" -- vs exec e1 -- no-such-command
        expect_contains "$ERR" "vsctl: exec e1: no-such-command" "message"
        expect_rc 137 "killed by SIGKILL" -- vs exec e1 -- sh -c 'kill -9 $$'
        expect_eq "hello from stdin" "$(echo 'hello from stdin' | vs exec e1 -- cat)" "stdin relay"
        expect_rc 0 "stderr" -- vs exec e1 -- sh -c 'echo to-err >&2; echo to-out'
        expect_eq "to-out" "$OUT" "stdout"
        expect_eq "to-err" "$ERR" "stderr"
        # output written just before exit is never lost, even with a
        # background child still holding the pipes
        expect_rc 0 "background child" -- vs exec e1 -- sh -c 'sleep 30 & seq 1 20000 | tail -1'
        expect_eq "20000" "$OUT" "last output of a command that leaves a child"
        expect_rc 0 "stderr" -- vs exec e1 -- sh -c 'echo to-err >&2; echo to-out'
        expect_eq "to-out" "$OUT" "stdout"
        expect_eq "to-err" "$ERR" "stderr"
        big=$(mktemp)
        head -c 3000000 /dev/urandom >"$big"
        sum_in=$(md5sum <"$big" | cut -d' ' -f1)
        sum_out=$(vs exec e1 -- md5sum <"$big" | cut -d' ' -f1)
        rm -f "$big"
        expect_eq "$sum_in" "$sum_out" "3 MB through stdin"
        expect_eq "3000000" "$(head -c 3000000 /dev/zero | vs exec e1 -- cat | wc -c)" "3 MB round trip"
        expect_rc 3 "exec in a missing VPS" -- vs exec nosuch -- true
        expect_eq "vsctl: exec nosuch: no such VPS" "$ERR" "message"
        vs stop --fast e1
        expect_rc 4 "exec in stopped VPS" -- vs exec e1 -- true
        expect_eq "vsctl: exec e1: VPS is not running" "$ERR" "message"
        vs destroy e1
}

test_exec_joins_cgroup_and_pid_namespace() {
        vs create j1 --template busybox
        vs start j1
        expect_eq "0::/" "$(vs exec j1 -- cat /proc/self/cgroup | grep '^0::')" "cgroup ns root"
        local hostpid
        hostpid=$(vs exec j1 -- sh -c 'sleep 30 & echo $!')
        [ "$hostpid" -lt 100 ] || fail "pid inside the VPS should be small, got $hostpid"
        vs destroy --force j1
}

test_logs_show_console_output() {
        vs create l1 --template busybox --hostname l1.example
        vs start l1
        wait_for 10 'vs logs l1 | grep -q "l1.example booting"' || fail "rcS output not in logs: $(vs logs l1)"
        expect_contains "$(vs logs l1)" "--- vsd: starting l1" "start banner"
        vs destroy --force l1
}

test_console_log_is_capped() {
        local dir
        vs create cap1 --template busybox
        install_payload cap1
        set_config cap1 init "/payload spew 1500000"
        vs start cap1
        dir=$(vps_dir cap1)
        # the console keeper rotates as it writes what the VPS printed
        wait_for 20 '[ -e "$dir/console.log.1" ]' || fail "console.log never rotated"
        [ "$(stat -c %s "$dir/console.log")" -le 1048576 ] || fail "console.log above 1 MiB"
        [ "$(stat -c %s "$dir/console.log.1")" -gt 1048576 ] || fail "rotated log lost output"
        expect_contains "$(vs logs cap1 | head -1)" "--- vsd: starting cap1" "logs show the rotated part first"
        vs destroy --force cap1
}

test_restart_gives_a_new_init() {
        local before after
        vs create r1 --template busybox
        vs start r1
        before=$(vs status r1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
        vs restart r1
        after=$(vs status r1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
        expect_eq "r1 exist running" "$(vs status r1)" "running after restart"
        [ "$before" != "$after" ] || fail "restart kept pid $before"
        vs stop --fast r1
        vs restart r1
        expect_eq "running" "$(state_of r1)" "restart of a stopped VPS starts it"
        vs destroy --force r1
}

test_stop_timeout_kills_a_stubborn_init() {
        vs create k1 --template busybox
        install_payload k1
        set_config k1 init "/payload stubborn"
        vs start k1
        vs stop --timeout 1 k1
        expect_eq "k1 exist stopped (killed by SIGKILL)" "$(vs status k1)" "status"
        vs destroy k1
}

test_init_exit_status_is_recorded() {
        vs create x1 --template busybox
        install_payload x1
        set_config x1 init "/payload exit 3"
        vs start x1
        wait_for 10 '[ "$(state_of x1)" = stopped ]' || fail "VPS did not stop by itself"
        expect_eq "x1 exist stopped (exit code 3)" "$(vs status x1)" "status"
        expect_eq "code 3" "$(vs status x1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["exit"])')" "json"
        vs destroy x1
}

test_vsinit_runs_where_the_template_has_no_init() {
        cp -a "$(tmpl_dir busybox)" "$(tmpl_dir noinit)"
        rm "$(tmpl_dir noinit)/rootfs/sbin/init"
        sed -i '/^stop_signal/d' "$(tmpl_dir noinit)/meta"
        vs create v1 --template noinit
        mkdir -p "$(vps_dir v1)/upper/etc"
        printf '#!/bin/sh\necho rc-local-ran > /tmp/rc-local-marker\n' >"$(vps_dir v1)/upper/etc/rc.local"
        chmod 755 "$(vps_dir v1)/upper/etc/rc.local"
        vs start v1
        expect_contains "$(vs exec v1 -- ps -o pid,args | awk '$1 == 1')" "vsinit" "pid 1 is vsinit"
        wait_for 10 'vs exec v1 -- cat /tmp/rc-local-marker 2>/dev/null | grep -q rc-local-ran' ||
                fail "rc.local did not run"
        # orphans are reaped: a daemonized child that exits leaves no zombie
        vs exec v1 -- sh -c '(sleep 0.1 &) ; true'
        wait_for 10 '[ -z "$(vs exec v1 -- ps -o stat | grep Z)" ]' || fail "zombie left"
        vs stop v1
        expect_eq "v1 exist stopped (exit code 0)" "$(vs status v1)" "SIGPWR ends vsinit cleanly"
        vs destroy v1
        rm -rf "$(tmpl_dir noinit)"
}

# After a failed start nothing is left: no cgroup, no mount, state stopped.
assert_rolled_back() { # name
        local d
        expect_eq stopped "$(state_of "$1")" "state after failed start"
        for d in $(cgroup_dirs); do
                [ ! -e "$d/default/$1" ] || fail "cgroup $d/default/$1 left"
        done
        lacks "$(vps_dir "$1")" /proc/self/mountinfo || fail "mount left"
        got=$(ls "$(vps_dir "$1")/upper")
        expect_eq "" "$got" "upper layer touched"
}

test_failed_start_rolls_back() {
        vs create b1 --template busybox
        set_config b1 init /no/such/init
        expect_rc 1 "start with a missing init" -- vs start b1
        expect_contains "$ERR" "vsctl: start b1: exec init /no/such/init: No such file or directory" "message"
        assert_rolled_back b1
        # a template whose /sbin/init is not a program
        cp -a "$(tmpl_dir busybox)" "$(tmpl_dir badinit)"
        rm "$(tmpl_dir badinit)/rootfs/sbin/init"
        printf 'not a program\n' >"$(tmpl_dir badinit)/rootfs/sbin/init"
        chmod 755 "$(tmpl_dir badinit)/rootfs/sbin/init"
        vs create b2 --template badinit
        expect_rc 1 "start with a broken init" -- vs start b2
        expect_contains "$ERR" "exec /sbin/init: Exec format error" "message"
        assert_rolled_back b2
        # after a rollback, the VPS starts once fixed
        set_config b1 init /sbin/init
        vs start b1
        expect_eq running "$(state_of b1)" "start after fix"
        vs destroy --force b1
        vs destroy b2
        rm -rf "$(tmpl_dir badinit)"
}

test_destroy_removes_everything_and_is_idempotent() {
        local d
        vs create d1 --template busybox
        vs start d1
        expect_rc 4 "destroy running" -- vs destroy d1
        expect_contains "$ERR" "running" "message"
        vs destroy --force d1
        [ ! -e "$(vps_dir d1)" ] || fail "directory left"
        vs list >/dev/null # the cgroups go with the stop's waiting work
        for d in $(cgroup_dirs); do
                [ ! -e "$d/default/d1" ] || fail "cgroup left: $d/default/d1"
        done
        lacks "$(vps_dir d1)" /proc/self/mountinfo || fail "mount left"
        expect_rc 0 "destroy again" -- vs destroy d1
        expect_rc 3 "status of destroyed" -- vs status d1
        expect_eq "d1 deleted" "$OUT" "status line"
        expect_rc 0 "delete alias" -- vs delete d1
}

test_list_output_formats() {
        vs create ls1 --template busybox --hostname one.example
        vs create ls2 --template busybox
        vs start ls1
        expect_eq "NAME  STATE    HOSTNAME" "$(vs list -o name,state,hostname | head -1 | sed 's/ *$//')" "header"
        expect_eq "ls1 running one.example" "$(vs list -H -o name,state,hostname | grep ls1 | tr -s ' ')" "row"
        got=$(vs list -H -o name | lines_matching ls2)
        expect_eq "" "$got" "stopped hidden"
        expect_eq "ls2 stopped" "$(vs list -a -H -o name,state | grep ls2 | tr -s ' ')" "list -a"
        vs list -a --json | python3 -c '
import json, sys
rows = {r["name"]: r for r in json.load(sys.stdin)}
assert rows["ls1"]["state"] == "running", rows
assert rows["ls1"]["hostname"] == "one.example", rows
assert rows["ls1"]["pid"] > 0 and rows["ls1"]["nproc"] >= 1, rows
assert rows["ls2"]["state"] == "stopped" and rows["ls2"]["pid"] == 0, rows
' || fail "list --json"
        expect_eq '[{"name":"ls1"}]' "$(vs list -j -o name | python3 -c 'import json,sys; print(json.dumps([r for r in json.load(sys.stdin) if r["name"].startswith("ls")], separators=(",",":")))')" "json -o"
        expect_rc 2 "unknown field" -- vs list -o name,color
        expect_contains "$ERR" "unknown field 'color'" "message"
        vs destroy --force ls1
        vs destroy ls2
}

test_templates() {
        vs create t1 --template busybox
        expect_contains "$(vs template list -H)" "busybox" "listed"
        expect_eq "1" "$(vs template list --json | python3 -c 'import json,sys; print([t for t in json.load(sys.stdin) if t["name"]=="busybox"][0]["vps"])')" "users"
        expect_rc 4 "remove while used" -- vs template remove busybox
        expect_contains "$ERR" "in use" "message"
        vs template build busybox bb2
        expect_rc 4 "build twice" -- vs template build busybox bb2
        expect_rc 2 "unknown builder" -- vs template build debian-nope
        [ -x "$(tmpl_dir bb2)/rootfs/bin/busybox" ] || fail "busybox binary missing"
        for f in etc/inittab etc/init.d/rcS etc/passwd etc/group; do
                [ -f "$(tmpl_dir bb2)/rootfs/$f" ] || fail "$f missing"
        done
        vs template remove bb2
        [ ! -e "$(tmpl_dir bb2)" ] || fail "template not removed"
        expect_rc 3 "remove missing" -- vs template remove bb2
        vs destroy t1
}

test_usage_errors_help_and_exit_codes() {
        expect_rc 2 "unknown command" -- vs frobnicate
        expect_contains "$ERR" "unknown command 'frobnicate'" "message"
        expect_rc 2 "missing name" -- vs start
        expect_rc 2 "unknown option" -- vs stop --bogus x
        expect_rc 6 "no vsd" -- "$BIN/vsctl" --root /nonexistent-paene-root list
        expect_contains "$ERR" "vsd is not running" "message"
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        VS_ROOT=$R "$BIN/vsctl" list -a >/dev/null || fail "VS_ROOT not honoured"
        local help cmd
        help=$("$BIN/vsctl" --help)
        for cmd in create start stop restart destroy status list exec enter logs template; do
                expect_contains "$help" "  $cmd " "vsctl --help lists $cmd"
                "$BIN/vsctl" "$cmd" --help >/dev/null || fail "$cmd --help"
                # in the synopsis, and as an entry of its own under COMMANDS
                grep -qE "^\.B vsctl $cmd( |\$)" "$TOP/contrib/man/vsctl.8" ||
                        fail "vsctl.8's synopsis lacks $cmd"
                grep -qE "^\.B $cmd( |\$)" "$TOP/contrib/man/vsctl.8" ||
                        fail "vsctl.8 has no entry for $cmd"
        done
}

test_vsd_refuses_a_second_instance_on_one_root() {
        expect_rc 1 "second vsd" -- unshare -n "$BIN/vsd" --root "$R" --cgroup-name "$CG"
        expect_contains "$ERR" "already running on $R (pid $(vsd_pid))" "message"
        kill -0 "$(vsd_pid)" || fail "first vsd died"
}

# A killed vsd's lock (its pid file) lives on while its forks end, which
# its death signals: a new vsd waits for that when the pid file names a
# process that is gone, and takes the root after. Here a process that is
# not vsd holds the lock for a moment under a dead vsd's pid.
test_vsd_waits_for_a_dead_vsds_lock() {
        local dead line holder
        stop_vsd
        sh -c 'exit 0' &
        dead=$!
        wait "$dead"
        echo "$dead" >"$R/run/paene/vsd.pid"
        coproc LOCKER {
                exec python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(1)' "$R/run/paene/vsd.pid"
        }
        holder=$LOCKER_PID
        read -r -u "${LOCKER[0]}" line
        expect_eq locked "$line" "the lock is held"
        start_vsd || fail "vsd did not start once the dead vsd's lock went"
        is_dead "$holder" || fail "vsd started while the lock was held"
        expect_rc 0 "vsd answers" -- vs list -a
}

test_vsd_admits_root_group_paene_and_slice_owners_only() {
        local gid
        gid=$(getent group paene | cut -d: -f3)
        [ -n "$gid" ] || fail "vsd did not create group paene"
        # anyone may connect; vsd refuses who is none of them at accept
        expect_eq "666 root paene" "$(stat -c '%a %U %G' "$R/run/paene/vsd.sock")" "socket mode"
        chmod 755 "$R" "$R/run" "$R/run/paene"
        expect_rc 5 "unprivileged user" -- setpriv --reuid=65534 --regid=65534 --clear-groups \
                "$BIN/vsctl" --root "$R" list
        expect_contains "$ERR" "permission denied" "message"
        expect_rc 0 "member of group paene" -- setpriv --reuid=65534 --regid=65534 \
                --groups="$gid" "$BIN/vsctl" --root "$R" list -a
}

run_tests
