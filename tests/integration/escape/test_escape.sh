#!/bin/bash
# Escape attempts by a VPS's root, each a separate test that must fail, with
# a control on the host where the same attempt is harmless there. Every
# attempt runs through the payload's "try", which first proves that it runs
# inside a VPS: a marker file made here on the host must be invisible to it.
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

# attempt VPS ATTEMPT [ARGS]: must be refused (exit 1) inside the VPS
attempt_refused() {
        local vps=$1
        shift
        expect_rc 1 "$* in $vps" -- vs exec "$vps" -- /payload try "$MARKER" "$@"
        expect_contains "$OUT" "refused" "$* in $vps"
}

# the same attempt on the host, where it is harmless, succeeds (the test
# would prove nothing if the attempt could not work at all)
control_on_host() {
        expect_rc 0 "control on the host: $*" -- "$BIN/payload" try /nonexistent-paene-marker "$@"
}

test_try_refuses_to_run_on_the_host() {
        expect_rc 2 "try with a visible marker" -- "$BIN/payload" try "$MARKER" keyctl
}

test_load_a_kernel_module() {
        attempt_refused esc module
        attempt_refused escp module
}

test_kexec() {
        attempt_refused esc kexec
        attempt_refused escp kexec
}

test_open_by_handle_at_shocker() {
        attempt_refused esc open_by_handle_at
        attempt_refused escp open_by_handle_at
        # on a file system that has file handles (a VM's 9p root has none)
        control_on_host open_by_handle_at "$R"
}

test_keyctl_and_add_key() {
        attempt_refused esc keyctl
        attempt_refused esc add_key
        attempt_refused escp keyctl
        control_on_host keyctl
}

test_bpf() {
        attempt_refused esc bpf
        attempt_refused escp bpf
        control_on_host bpf
}

test_perf_event_open() {
        attempt_refused esc perf_event_open
        attempt_refused escp perf_event_open
        control_on_host perf_event_open
}

test_userfaultfd() {
        attempt_refused esc userfaultfd
        control_on_host userfaultfd
}

test_mknod_and_mount_a_host_disk() {
        attempt_refused esc mknod_mount
}

test_sysrq_trigger_and_kernel_sysctls() {
        attempt_refused esc write /proc/sysrq-trigger
        attempt_refused esc write /proc/sys/kernel/core_pattern
        attempt_refused esc write /proc/sys/vm/drop_caches
        attempt_refused escp write /proc/sysrq-trigger
        attempt_refused escp write /proc/sys/kernel/core_pattern
        expect_eq "" "$(vs exec esc -- cat /proc/kcore 2>/dev/null | head -c 1)" "kcore masked"
        expect_eq "" "$(vs exec esc -- cat /proc/keys 2>/dev/null)" "keys masked"
        expect_eq "" "$(vs exec esc -- ls /sys/firmware)" "sys/firmware masked"
}

test_network_sysctls_of_its_own_netns_stay_writable() {
        local before
        before=$(cat /proc/sys/net/ipv4/ip_forward)
        vs exec esc -- sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
        expect_eq 1 "$(vs exec esc -- cat /proc/sys/net/ipv4/ip_forward)" "inside"
        expect_eq "$before" "$(cat /proc/sys/net/ipv4/ip_forward)" "host unchanged"
}

test_cgroup_release_agent() {
        attempt_refused esc release_agent
}

test_cgroup_fs_shows_only_the_vps_subtree() {
        local listing
        listing=$(vs exec esc -- sh -c 'mkdir -p /tmp/cg2 && mount -t cgroup2 none /tmp/cg2 && ls /tmp/cg2 && cat /proc/self/cgroup')
        expect_not_contains "$listing" "$CG" "vsd's tree"
        expect_not_contains "$listing" "escp" "the other VPS"
        expect_not_contains "$listing" "process_api" "the host's cgroups"
        expect_contains "$listing" "0::/" "its own root"
}

test_set_the_time() {
        attempt_refused esc settime
        attempt_refused escp settime
}

test_hostname_and_network_of_the_host_untouched() {
        local host_name
        host_name=$(hostname)
        vs exec esc -- hostname evil-name
        expect_eq "$host_name" "$(hostname)" "host hostname"
        vs exec esc -- ip addr add 10.199.0.1/32 dev lo
        expect_not_contains "$(ip addr show lo)" "10.199.0.1" "address in the host's namespace"
        expect_not_contains "$(nsenter -t "$(vsd_pid)" -n ip addr show lo)" "10.199.0.1" \
                "address in vsd's namespace"
        attempt_refused esc write /proc/sys/kernel/hostname
}

test_kill_or_ptrace_a_host_process() {
        local sleeper
        sleep 60 &
        sleeper=$!
        attempt_refused esc kill "$sleeper"
        attempt_refused esc ptrace "$sleeper"
        kill -0 "$sleeper" || fail "host process died"
        kill "$sleeper"
}

test_reboot_ends_only_the_vps() {
        local before
        before=$(vs status esc --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
        vs exec esc -- /payload try "$MARKER" reboot || true
        wait_for 10 '[ "$(vs status esc --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"pid\"])")" != "$before" ]' ||
                fail "the VPS did not reboot"
        wait_for 10 '[ "$(state_of esc)" = running ]' || fail "the VPS did not come back"
        [ "$(cat /proc/1/comm)" != "" ] || fail "host gone"
        install_payload esc
}

test_other_vps_files_and_processes_are_invisible() {
        local other_pid
        vs exec escp -- sh -c 'echo secret > /root/other-secret; sleep 300 &'
        other_pid=$(vs list -H -o name,pid | awk '$1 == "escp" {print $2}')
        expect_eq "" "$(vs exec esc -- find / -xdev -name other-secret 2>/dev/null)" "other VPS's file"
        expect_not_contains "$(vs exec esc -- ps -o args)" "sleep 300" "other VPS's process"
        attempt_refused esc kill "$other_pid"
        expect_rc 1 "path of the other VPS" -- vs exec esc -- ls "$(vps_dir escp)/upper"
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
        wait "$watcher" && fail "exe-watch opened vsd's binary: $(cat /tmp/paene-exe-watch.$$)"
        rm -f /tmp/paene-exe-watch.$$
        expect_eq "$sum_before" "$(md5sum <"$BIN/vsd")" "vsd's binary unchanged"
}

# CapBnd of a process in the VPS, as a number
cap_bound() {
        printf '%d' "0x$(vs exec "$1" -- grep CapBnd /proc/self/status | awk '{print $2}')"
}

test_capability_set_changes_what_root_keeps() {
        local net_raw=$((1 << 13)) sys_module=$((1 << 16))
        vs create capv --template busybox
        vs start capv
        [ $(($(cap_bound capv) & net_raw)) -ne 0 ] || fail "net_raw not in the default set"
        [ $(($(cap_bound capv) & sys_module)) -eq 0 ] || fail "sys_module in the default set"
        vs exec capv -- ping -c 1 -W 2 127.0.0.1 >/dev/null || fail "ping with net_raw"
        expect_rc 2 "unknown capability" -- vs set capv --capability no_such_cap:off
        expect_contains "$ERR" "no_such_cap" "message"
        expect_rc 2 "bad syntax" -- vs set capv --capability net_raw
        vs set capv --capability net_raw:off
        grep -q '^capability = net_raw:off$' "$(vps_dir capv)/config" || fail "not saved"
        vs restart --timeout 5 capv
        [ $(($(cap_bound capv) & net_raw)) -eq 0 ] || fail "net_raw still in the bounding set"
        expect_rc 1 "ping without net_raw" -- vs exec capv -- ping -c 1 -W 2 127.0.0.1
        vs set capv --capability net_raw:on
        ! grep -q '^capability' "$(vps_dir capv)/config" || fail "default set not written back as default"
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

setup_once
escape_setup
run_tests
