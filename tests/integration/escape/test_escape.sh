#!/bin/bash
# Escape attempts by a VPS's root, each a separate test that must fail with
# the errno it names, with a control on the host where the same call
# succeeds (or fails with another errno: it got past the check the VPS
# fails). Every attempt runs through the payload's "try", which first proves
# that it runs inside a VPS: a marker file made here on the host must be
# invisible to it. An attempt at a file this kernel lacks is not made.
. "$(dirname "$0")/../lib.sh"

MARKER=""

escape_setup() {
        # in the test's root: invisible to a VPS, removed with the root
        MARKER=$R/escape-marker
        touch "$MARKER"
        vs create esc --template busybox
        install_payload esc
        vs start esc
        vs create escp --template busybox --privileged
        install_payload escp
        vs start escp
}

# exec works in the VPS, and the marker is invisible there
inside_vps() {
        vs exec "$1" -- true || fail "$1: exec does not work"
        if vs exec "$1" -- test -e "$MARKER"; then
                fail "$1: the marker is visible: not inside a VPS"
        fi
}

# attempt_refused VPS ERRNO[|ERRNO] ATTEMPT [ARGS]: refused (exit 1) inside
# the VPS, with ERRNO (or one of the alternatives a test names, where the
# kernel decides at which step the attempt stops)
attempt_refused() {
        local vps=$1 errnos=$2 e
        shift 2
        inside_vps "$vps"
        expect_rc 1 "$* in $vps" -- vs exec "$vps" -- /payload try "$MARKER" "$@"
        for e in ${errnos//|/ }; do
                case "$OUT" in *": refused: $e "*) return 0 ;; esac
        done
        fail "$* in $vps: $OUT (expected $errnos)"
}

# the same attempt on the host, where it is harmless, succeeds (the test
# would prove nothing if the attempt could not work at all)
control_on_host() {
        expect_rc 0 "control on the host: $*" -- "$BIN/payload" try /nonexistent-paene-marker "$@"
        expect_contains "$OUT" "SUCCEEDED" "control on the host: $*"
}

# control_on_host_errno 'ERRNO...' ATTEMPT [ARGS]: on the host the attempt
# fails with one of these errnos, each a step past the privilege check
control_on_host_errno() {
        local errnos=$1 e
        shift
        expect_rc 1 "control on the host: $*" -- "$BIN/payload" try /nonexistent-paene-marker "$@"
        for e in $errnos; do
                case "$OUT" in *": refused: $e "*) return 0 ;; esac
        done
        fail "control on the host: $*: $OUT (expected one of $errnos)"
}

# host_has PATH: the kernel has it (an attempt at a missing file proves
# nothing: it is not made, and says so)
# Whether open_tree(OPEN_TREE_CLONE) copies a tmpfs mounted nowhere
# (fsopen + fsmount, closed at once: nothing is attached anywhere).
kernel_copies_detached_mounts() {
        python3 - <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_open_tree, SYS_fsopen, SYS_fsconfig, SYS_fsmount = 428, 430, 431, 432
fs = libc.syscall(SYS_fsopen, b"tmpfs", 1)
if fs < 0 or libc.syscall(SYS_fsconfig, fs, 6, None, None, 0) < 0:
    sys.exit(2)
mnt = libc.syscall(SYS_fsmount, fs, 1, 0)
if mnt < 0:
    sys.exit(2)
copy = libc.syscall(SYS_open_tree, mnt, b"", 1 | 0o2000000 | 0x1000)
sys.exit(0 if copy >= 0 else 1)
PY
}

host_has() {
        [ -e "$1" ] && return 0
        echo "    $1: not on this kernel, attempt not made" >&2
        return 1
}

test_try_refuses_to_run_on_the_host() {
        expect_rc 2 "try with a visible marker" -- "$BIN/payload" try "$MARKER" keyctl
}

# with flags no kernel knows: host root gets past the privilege check to the
# flags (EINVAL), or finds no module support (ENOSYS); never EPERM
test_load_a_kernel_module() {
        attempt_refused esc EPERM module
        attempt_refused escp EPERM module
        control_on_host_errno "EINVAL ENOSYS" module
}

test_kexec() {
        attempt_refused esc EPERM kexec
        attempt_refused escp EPERM kexec
        control_on_host_errno "EINVAL ENOSYS" kexec
}

test_open_by_handle_at_shocker() {
        attempt_refused esc EPERM open_by_handle_at
        attempt_refused escp EPERM open_by_handle_at
        # on a file system that has file handles (a VM's 9p root has none)
        control_on_host open_by_handle_at "$R"
}

test_keyctl_and_add_key() {
        attempt_refused esc EPERM keyctl
        attempt_refused esc EPERM add_key
        attempt_refused escp EPERM keyctl
        control_on_host keyctl
        control_on_host add_key
}

test_bpf() {
        attempt_refused esc EPERM bpf
        attempt_refused escp EPERM bpf
        control_on_host bpf
}

test_perf_event_open() {
        attempt_refused esc EPERM perf_event_open
        attempt_refused escp EPERM perf_event_open
        control_on_host perf_event_open
}

test_userfaultfd() {
        attempt_refused esc EPERM userfaultfd
        control_on_host userfaultfd
}

# refused at the first step, the block device node; the host may make one
# (in a mount namespace of its own with a private /tmp)
test_mknod_and_mount_a_host_disk() {
        attempt_refused esc EPERM mknod_mount
        expect_contains "$OUT" "mknod block device: refused" "the step refused"
        expect_rc 0 "control on the host: mknod" -- unshare -m --propagation private \
                sh -c 'exec 9<"$1"; shift; mount -t tmpfs paene-control /tmp && cat <&9 >/tmp/payload && chmod 755 /tmp/payload && /tmp/payload "$@"' \
                sh "$BIN/payload" try /nonexistent-paene-marker mknod
}

# opened for writing, nothing written (the host's control the same)
test_sysrq_trigger_and_kernel_sysctls() {
        local f
        for f in /proc/sysrq-trigger /proc/sys/kernel/core_pattern /proc/sys/vm/drop_caches; do
                host_has "$f" || continue
                attempt_refused esc EACCES write "$f"
                attempt_refused escp EROFS write "$f"
                control_on_host write "$f"
        done
}

# a masked file is the VPS's own /dev/null; a masked directory an empty
# read-only tmpfs (each beside what the host has there)
test_kernel_files_are_masked() {
        local f got
        for f in /proc/kcore /proc/keys /proc/timer_list; do
                host_has "$f" || continue
                # (procfs gives /proc/kcore a size, the others none)
                case "$(stat -c %F "$f")" in
                "regular file" | "regular empty file") ;;
                *) fail "control: the host's $f is a $(stat -c %F "$f")" ;;
                esac
                got=$(vs exec esc -- stat -c '%F %t:%T' "$f")
                expect_eq "character special file 1:3" "$got" "$f in esc"
                got=$(vs exec esc -- sh -c "wc -c <$f")
                expect_eq 0 "$got" "bytes read from $f in esc"
        done
        host_has /sys/firmware || return 0
        got=$(ls /sys/firmware)
        [ -n "$got" ] || fail "control: the host's /sys/firmware is empty"
        expect_eq tmpfs "$(vs exec esc -- stat -f -c %T /sys/firmware)" "/sys/firmware in esc"
        got=$(vs exec esc -- ls -A /sys/firmware)
        expect_eq "" "$got" "entries of /sys/firmware in esc"
}

# /proc is a proc of the VPS's own pid namespace and /sys a sysfs of its
# own network namespace, both mounted with the host's privileges (the
# builder makes /proc itself where procfs takes the pid namespace as an
# option, else a helper in both namespaces does): the VPS's root can
# detach neither
test_proc_and_sys_are_its_own_and_locked() {
        local v init_pid devs
        for v in esc escp; do
                init_pid=$(vs list -H -o name,pid | awk -v n="$v" '$1 == n {print $2}')
                expect_eq "$(readlink "/proc/$init_pid/ns/pid")" \
                        "$(vs exec $v -- readlink /proc/1/ns/pid)" "the pid namespace of /proc/1 in $v"
                devs=$(vs exec $v -- cat /proc/net/dev | awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' | sort)
                [ -n "$devs" ] || fail "control: $v's /proc/net/dev names no device"
                expect_eq "$devs" "$(vs exec $v -- ls /sys/class/net | sort)" "the devices of /sys/class/net in $v"
                expect_eq proc "$(vs exec $v -- awk '$2 == "/proc" { print $1 }' /proc/mounts)" \
                        "the source of /proc in $v"
                if vs exec $v -- umount -l /proc 2>/dev/null; then
                        fail "$v detached its /proc"
                fi
                if vs exec $v -- umount -l /sys 2>/dev/null; then
                        fail "$v detached its /sys"
                fi
        done
}

# one empty read-only tmpfs is the masked directories of every VPS (each
# file system instance cost every memory cgroup of the host a shrinker
# slot): the same device in both VPS, and neither root, privileged or not,
# can write it or make it writable
test_masked_directories_are_one_read_only_tmpfs_for_all_vps() {
        local v
        host_has /sys/firmware || skip "the host has no /sys/firmware"
        inside_vps esc
        inside_vps escp
        # one for all where the kernel copies a detached mount (6.18 does,
        # 6.1 does not: there each VPS mounts its own, and vsd logs why)
        if kernel_copies_detached_mounts; then
                expect_eq "$(vs exec esc -- stat -c %d /sys/firmware)" \
                        "$(vs exec escp -- stat -c %d /sys/firmware)" "the device of /sys/firmware in esc and escp"
        else
                echo "    this kernel cannot copy a detached mount: a mask tmpfs per VPS" >&2
        fi
        for v in esc escp; do
                expect_eq tmpfs "$(vs exec $v -- stat -f -c %T /sys/firmware)" "/sys/firmware in $v"
                if vs exec $v -- touch /sys/firmware/mine 2>/dev/null; then
                        fail "$v wrote into its masked /sys/firmware"
                fi
                if vs exec $v -- mount -o remount,rw /sys/firmware 2>/dev/null; then
                        fail "$v made its masked /sys/firmware writable"
                fi
                if vs exec $v -- sh -c 'umount /sys/firmware' 2>/dev/null; then
                        fail "$v unmounted its masked /sys/firmware"
                fi
                expect_eq "" "$(vs exec $v -- ls -A /sys/firmware)" "entries of /sys/firmware in $v"
        done
}

test_network_sysctls_of_its_own_netns_stay_writable() {
        local before
        before=$(cat /proc/sys/net/ipv4/ip_forward)
        vs exec esc -- sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
        expect_eq 1 "$(vs exec esc -- cat /proc/sys/net/ipv4/ip_forward)" "inside"
        expect_eq "$before" "$(cat /proc/sys/net/ipv4/ip_forward)" "host unchanged"
}

# refused at the mount of a v1 hierarchy (a named one: no controller is
# taken from anyone), or, where the kernel lets a user namespace mount it,
# by a root of the mount that is the VPS's cgroup, not the hierarchy's,
# which alone has release_agent; host root mounts it in a mount namespace
# of its own and may open the file
test_cgroup_release_agent() {
        attempt_refused esc "EPERM|ENOENT" release_agent
        case "$OUT" in
        "mount cgroup v1: refused: EPERM "* | "/tmp/escape-cg/release_agent: refused: ENOENT "*) ;;
        *) fail "refused at an unexpected step: $OUT" ;;
        esac
        expect_rc 0 "control on the host: release_agent" -- unshare -m --propagation private \
                sh -c 'exec 9<"$1"; shift; mount -t tmpfs paene-control /tmp && cat <&9 >/tmp/payload && chmod 755 /tmp/payload &&
                        /tmp/payload "$@"; rc=$?; umount /tmp/escape-cg; exit $rc' \
                sh "$BIN/payload" try /nonexistent-paene-marker release_agent
}

test_cgroup_fs_shows_only_the_vps_subtree() {
        local listing
        listing=$(vs exec esc -- sh -c 'mkdir -p /tmp/cg2 && mount -t cgroup2 none /tmp/cg2 && ls /tmp/cg2 && cat /proc/self/cgroup')
        expect_not_contains "$listing" "$CG" "vsd's tree"
        expect_not_contains "$listing" "escp" "the other VPS"
        expect_not_contains "$listing" "process_api" "the host's cgroups"
        expect_contains "$listing" "0::/" "its own root"
}

# to the time it just read: host root may (a step back of microseconds)
test_set_the_time() {
        attempt_refused esc EPERM settime
        attempt_refused escp EPERM settime
        control_on_host settime
}

test_hostname_and_network_of_the_host_untouched() {
        local host_name
        host_name=$(hostname)
        vs exec esc -- hostname evil-name
        expect_eq "$host_name" "$(hostname)" "host hostname"
        vs exec esc -- ip addr add 10.199.0.1/32 dev lo
        got=$(ip addr show lo)
        expect_not_contains "$got" "10.199.0.1" "address in the host's namespace"
        got=$(in_host ip addr show lo)
        expect_not_contains "$got" "10.199.0.1" "address in vsd's namespace"
        expect_contains "$(vs exec esc -- ip addr show lo)" "10.199.0.1" "control: the address inside"
        attempt_refused esc EACCES write /proc/sys/kernel/hostname
        control_on_host write /proc/sys/kernel/hostname
}

test_kill_or_ptrace_a_host_process() {
        sleep 60 &
        sleeper=$!
        trap 'kill "$sleeper" 2>/dev/null' EXIT
        # its pid names nothing in the VPS's pid namespace
        attempt_refused esc ESRCH kill "$sleeper"
        attempt_refused esc ESRCH ptrace "$sleeper"
        untouched "$sleeper" || fail "host process signalled or stopped"
        control_on_host kill "$sleeper"
        control_on_host ptrace "$sleeper"
        untouched "$sleeper" || fail "the control stopped it"
}

# Alive, and not stopped.
untouched() {
        grep -q '^State:[[:space:]]*[RS]' "/proc/$1/status"
}

init_of() { vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }

# reboot(2) in a VPS ends its pid namespace (the caller with it: killed) and
# vsd starts it again; the neighbour and vsd stay as they were
test_reboot_ends_only_the_vps() {
        local before neighbour vsd rc=0
        before=$(init_of esc)
        neighbour=$(init_of escp)
        vsd=$(vsd_pid)
        inside_vps esc
        vs exec esc -- /payload try "$MARKER" reboot >"$R/reboot.out" || rc=$?
        # the call never returns: in a pid namespace the kernel kills its
        # init and ends the caller with do_exit(0)
        expect_eq 0 "$rc" "the caller's exit status"
        expect_eq "" "$(cat "$R/reboot.out")" "a verdict: reboot(2) returned"
        wait_for 10 '[ "$(init_of esc)" != "$before" ]' || fail "the VPS did not reboot"
        wait_for 10 '[ "$(state_of esc)" = running ]' || fail "the VPS did not come back"
        expect_eq "$neighbour" "$(init_of escp)" "the neighbour's init"
        kill -0 "$neighbour" || fail "the neighbour's init is gone"
        expect_eq "$vsd" "$(vsd_pid)" "vsd's pid"
        kill -0 "$vsd" || fail "vsd is gone"
}

# Nothing of the host's lies above a VPS's root: `..` from its root, from
# the mounts on it and from every process's root and cwd, and the chroot
# escape (mkdir x; chroot x; cd ../../..; chroot .) all end at its own root,
# where the marker is not; nor can it unmount its root to see what is
# below. The control: the same climb from a plain chroot on the host gets
# out (the chroot escape), so the attempt would tell a root that is only
# a chroot over the host's tree.
test_nothing_above_the_root() {
        local jail=$R/jail
        attempt_refused esc ENOENT climb
        attempt_refused escp ENOENT climb
        attempt_refused esc EINVAL unmount /
        attempt_refused escp EINVAL unmount /
        mkdir -p "$jail/tmp"
        cp "$BIN/payload" "$jail/payload"
        expect_rc 0 "control: the climb from a plain chroot" -- chroot "$jail" /payload try "$MARKER" climb
        expect_contains "$OUT" "the chroot escape: SUCCEEDED" "control: the climb from a plain chroot"
}

# A nested runtime's (or systemd's) pivot_root works in a VPS: the kernel
# needs the caller's root to be a mount with a parent
test_pivot_root_works_inside_a_vps() {
        inside_vps esc
        expect_eq pivoted "$(vs exec esc -- /payload pivot)" "pivot_root in esc"
        expect_eq pivoted "$(vs exec escp -- /payload pivot)" "pivot_root in escp"
}

test_other_vps_files_and_processes_are_invisible() {
        local other_pid
        vs exec escp -- sh -c 'echo secret > /root/other-secret; sleep 300 &'
        vs exec esc -- sh -c 'echo mine > /root/own-secret; sleep 301 &'
        other_pid=$(vs list -H -o name,pid | awk '$1 == "escp" {print $2}')
        got=$(vs exec esc -- find / -xdev -name '*-secret')
        expect_eq /root/own-secret "$got" "secret files esc finds (its own only)"
        got=$(vs exec esc -- ps -o args)
        expect_not_contains "$got" "sleep 300" "other VPS's process"
        expect_contains "$got" "sleep 301" "control: its own process"
        attempt_refused esc ESRCH kill "$other_pid"
        expect_rc 1 "path of the other VPS" -- vs exec esc -- ls "$(vps_dir escp)/upper"
        expect_contains "$ERR" "No such file or directory" "ls's message"
        expect_rc 0 "control: the path on the host" -- ls "$(vps_dir escp)/upper"
}

test_no_leaked_fd_or_cwd_from_vsd() {
        expect_eq "0 1 2 3" "$(vs exec esc -- ls /proc/self/fd | tr '\n' ' ' | sed 's/ $//')" "exec'd process fds"
        expect_eq "0 1 2" "$(vs exec esc -- ls /proc/1/fd | tr '\n' ' ' | sed 's/ $//')" "init's fds"
        expect_eq "/" "$(vs exec esc -- readlink /proc/self/cwd)" "cwd"
        expect_eq "/" "$(vs exec esc -- readlink /proc/1/root)" "init's root"
}

test_vsd_binary_cannot_be_overwritten_through_proc_exe() {
        local dev ino sum_before watcher
        dev=$(stat -L -c %d "$BIN/vsd")
        ino=$(stat -L -c %i "$BIN/vsd")
        sum_before=$(md5sum <"$BIN/vsd")
        vs exec esc -- /payload exe-watch "$dev" "$ino" 3 >/tmp/paene-exe-watch.$$ &
        watcher=$!
        for _ in $(seq 1 40); do vs exec esc -- true; done
        # exit 1 and its summary: it ran, watched and never got in (exit 1
        # alone could be vsctl's own failure)
        expect_job 1 "$watcher" "exe-watch: $(cat /tmp/paene-exe-watch.$$)"
        expect_contains "$(cat /tmp/paene-exe-watch.$$)" "vsd's binary never writable" "exe-watch's summary"
        rm -f /tmp/paene-exe-watch.$$
        expect_eq "$sum_before" "$(md5sum <"$BIN/vsd")" "vsd's binary unchanged"
}

# CapBnd of a process in the VPS, as a number
# (fails when exec does: a bounding set of 0 must not pass as "dropped")
cap_bound() {
        local line
        line=$(vs exec "$1" -- grep CapBnd /proc/self/status) || return 1
        [[ "$line" =~ ^CapBnd:[[:space:]]+([0-9a-f]{16})$ ]] || return 1
        printf '%d' "0x${BASH_REMATCH[1]}"
}

test_capability_set_changes_what_root_keeps() {
        local net_raw=$((1 << 13)) sys_module=$((1 << 16)) bnd
        vs create capv --template busybox
        vs start capv
        bnd=$(cap_bound capv)
        [ $((bnd & net_raw)) -ne 0 ] || fail "net_raw not in the default set"
        [ $((bnd & sys_module)) -eq 0 ] || fail "sys_module in the default set"
        vs exec capv -- ping -c 1 -W 2 127.0.0.1 >/dev/null || fail "ping with net_raw"
        expect_rc 2 "unknown capability" -- vs set capv --capability no_such_cap:off
        expect_contains "$ERR" "no_such_cap" "message"
        expect_rc 2 "bad syntax" -- vs set capv --capability net_raw
        vs set capv --capability net_raw:off
        grep -q '^capability = net_raw:off$' "$(vps_dir capv)/config" || fail "not saved"
        vs restart --timeout 5 capv
        bnd=$(cap_bound capv)
        [ $((bnd & net_raw)) -eq 0 ] || fail "net_raw still in the bounding set"
        [ "$bnd" -ne 0 ] || fail "an empty bounding set: the rest dropped too"
        expect_rc 1 "ping without net_raw" -- vs exec capv -- ping -c 1 -W 2 127.0.0.1
        vs set capv --capability net_raw:on
        lacks '^capability' "$(vps_dir capv)/config" || fail "default set not written back as default"
        vs restart --timeout 5 capv
        vs exec capv -- ping -c 1 -W 2 127.0.0.1 >/dev/null || fail "ping after net_raw:on"
        vs destroy --force capv
}

test_files_belong_to_the_vps_id_range() {
        local base_esc base_other
        base_esc=$(sed -n 's/^id_base = //p' "$(vps_dir esc)/config")
        vs create other --template busybox
        base_other=$(sed -n 's/^id_base = //p' "$(vps_dir other)/config")
        [ -n "$base_esc" ] && [ -n "$base_other" ] || fail "no id range"
        [ "$base_esc" != "$base_other" ] || fail "two VPS share the range $base_esc"
        vs exec esc -- sh -c 'echo x > /root/owned; chown 1000:1000 /root/owned; touch /root/rootfile'
        expect_eq "$((base_esc + 1000)):$((base_esc + 1000))" \
                "$(stat -c %u:%g "$(vps_dir esc)/upper/root/owned")" "uid 1000 inside"
        expect_eq "$base_esc:$base_esc" "$(stat -c %u:%g "$(vps_dir esc)/upper/root/rootfile")" "root inside"
        expect_eq "0 0" "$(vs exec esc -- stat -c '%u %g' /bin/busybox)" "template seen as root's"
        expect_eq "0:0" "$(stat -c %u:%g "$(tmpl_dir busybox)/rootfs/bin/busybox")" "template unchanged"
        expect_eq "$base_esc" "$(ps -o uid= -p "$(vs list -H -o name,pid | awk '$1 == "esc" {print $2}')" | tr -d ' ')" \
                "init runs as an unprivileged host id"
        vs destroy other
}

before_each() { escape_setup; }
run_tests
