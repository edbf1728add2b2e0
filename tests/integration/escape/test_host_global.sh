#!/bin/bash
# What a VPS's root, privileged or not, can do to the host's device nodes and
# to the kernel's host-global interfaces: nothing. A privileged VPS keeps
# host uid 0 for its files, but its capabilities hold only in its own user
# namespace, and its /dev, /proc and /sys cannot be turned into the host's.
# Every attempt first proves that it runs inside a VPS (a marker file made
# here on the host must be invisible) and stops otherwise; every refusal
# has a host control that shows the same attempt works where it may.
. "$(dirname "$0")/../lib.sh"

MARKER=""
VPS_KINDS="hgd hgp" # default, privileged

host_global_setup() {
        MARKER=$R/escape-marker
        touch "$MARKER"
        vs create hgd --template busybox
        vs create hgp --template busybox --privileged
        for v in $VPS_KINDS; do
                install_payload "$v"
                vs start "$v"
        done
}

inside_vps() { # vps: exec works there, and the marker is invisible
        vs exec "$1" -- true || fail "$1: exec does not work"
        if vs exec "$1" -- test -e "$MARKER"; then
                fail "$1: the marker is visible: not inside a VPS"
        fi
}

# attempt VPS ERRNO ATTEMPT [ARGS]: refused inside the VPS with ERRNO
attempt_refused() {
        local vps=$1 errno=$2
        shift 2
        inside_vps "$vps"
        expect_rc 1 "$* in $vps" -- vs exec "$vps" -- /payload try "$MARKER" "$@"
        expect_contains "$OUT" "refused: $errno " "$* in $vps"
}

# The same attempt as host root in a private mount namespace of the test,
# with a /tmp of its own (gone, with what it mounted or made, when the
# command ends), succeeds. The payload is opened before that /tmp hides
# the checkout (which may live under /tmp) and copied into it.
control_on_host() { # shell commands run first, then the attempt
        local prep=$1
        shift
        expect_rc 0 "control on the host: $*" -- unshare -m --propagation private \
                sh -c "exec 9<\"\$1\"; shift; mount -t tmpfs paene-control /tmp && cat <&9 >/tmp/payload && chmod 755 /tmp/payload && $prep /tmp/payload \"\$@\"" \
                sh "$BIN/payload" try /nonexistent-paene-marker "$@"
}

# ---- device nodes ----

# The nodes a VPS had as binds of the host's, and what masked /proc files
# were bound from: their mode, owner, inode, device number and ctime.
HOST_NODES="null zero full random urandom tty console ptmx"
host_nodes_stat() {
        local n
        for n in $HOST_NODES; do
                [ -e "/dev/$n" ] && stat -c '%n %f %u %g %d:%i %t:%T %Z' "/dev/$n"
        done
        return 0
}

# Fails when an entry of the VPS's /dev, or a masked file of its /proc, is a
# host inode (same device and inode number as one of the host's /dev).
expect_no_host_inode() { # vps
        local host inside
        host=$(for n in $HOST_NODES; do stat -c '%d:%i' "/dev/$n" 2>/dev/null; done)
        inside=$(vs exec "$1" -- sh -c 'for f in $(find /dev) /proc/*; do
                [ -c "$f" ] || [ -b "$f" ] || continue
                echo "$(stat -c "%d:%i" "$f") $f"; done')
        [ -n "$inside" ] || fail "$1: no device node seen in its /dev"
        while read -r id path; do
                if echo "$host" | grep -qx "$id"; then
                        fail "$1: its $path is the host's inode $id"
                fi
        done <<<"$inside"
}

# As root in the VPS: chmod, chown, mv over, rm and mknod on every entry of
# its /dev, and chmod and chown on its masked /proc files.
BATTERY='
for f in $(find /dev -depth) /proc/*; do
        [ "$f" = /dev ] && continue
        case $f in /proc/*) [ -c "$f" ] || continue ;; esac
        chmod 0700 "$f"; chmod 04777 "$f"; chown 123:45 "$f"; touch "$f"
done
echo moved >/tmp/over
for f in $(find /dev -depth ! -type d); do
        mv -f /dev/zero "$f"; cp /tmp/over /tmp/over2; mv -f /tmp/over2 "$f"
        mv -f "$f" "$f.moved"; rm -f "$f" "$f.moved"
        mknod "$f" c 1 3; mknod "$f.blk" b 8 0
done
mknod /dev/evil c 1 1; mknod /dev/evilblk b 253 0
rm -rf /dev/pts/* /dev/shm /dev/mqueue
true
'

device_battery() { # vps
        local before
        inside_vps "$1"
        # nothing destructive runs while a VPS node may be a host inode
        expect_no_host_inode "$1"
        before=$(host_nodes_stat)
        vs exec "$1" -- sh -c "$BATTERY" >/dev/null 2>&1 || true
        expect_eq "$before" "$(host_nodes_stat)" "host /dev nodes after $1's battery"
        # it did reach the VPS's own /dev: its nodes are gone
        if vs exec "$1" -- test -e /dev/zero; then
                fail "$1: the battery left /dev/zero: it ran nothing"
        fi
        [ -c /dev/null ] && echo x >/dev/null || fail "host /dev/null broken"
        # the VPS recovers at its next start: its /dev is made afresh
        vs restart --timeout 5 "$1"
        expect_eq "666 1:3" "$(vs exec "$1" -- stat -c '%a %t:%T' /dev/null)" "$1's /dev/null"
        expect_eq 3 "$(vs exec "$1" -- sh -c 'echo x >/dev/null && head -c 3 /dev/zero | wc -c')" \
                "$1's /dev works"
        install_payload "$1"
}

test_device_nodes_of_a_default_vps_are_its_own() {
        device_battery hgd
}

test_device_nodes_of_a_privileged_vps_are_its_own() {
        device_battery hgp
}

test_mknod() {
        for v in $VPS_KINDS; do
                attempt_refused "$v" EPERM mknod
                attempt_refused "$v" EPERM mknod_mount
        done
        control_on_host "" mknod
}

# ---- host-global file systems ----

test_host_global_file_systems_cannot_be_mounted() {
        local fs
        for fs in debugfs tracefs securityfs bpf; do
                for v in $VPS_KINDS; do
                        attempt_refused "$v" EPERM mount "$fs"
                done
                control_on_host "" mount "$fs"
        done
}

# ---- /proc and /sys stay masked and read-only ----

test_read_only_kernel_interfaces_cannot_be_made_writable() {
        for v in $VPS_KINDS; do
                attempt_refused "$v" EPERM remount_rw /proc/sys /proc/sys/kernel/core_pattern
                attempt_refused "$v" EPERM remount_rw /sys /sys/kernel/mm/transparent_hugepage/enabled
        done
        control_on_host "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys &&" \
                remount_rw /proc/sys /proc/sys/kernel/core_pattern
}

test_fresh_proc_and_sysfs_cannot_be_mounted() {
        for v in $VPS_KINDS; do
                attempt_refused "$v" EPERM fresh proc sys/kernel/core_pattern
                attempt_refused "$v" EPERM fresh sysfs kernel/mm/transparent_hugepage/enabled
        done
        control_on_host "" fresh proc sys/kernel/core_pattern
}

test_masks_cannot_be_unmounted() {
        local path
        for v in $VPS_KINDS; do
                for path in /proc/sys /proc/keys /sys/firmware /dev; do
                        attempt_refused "$v" EINVAL unmount "$path"
                done
        done
        control_on_host "mount --bind /dev/null /proc/keys &&" unmount /proc/keys
}

# /sys is a read-only file system (EROFS for anyone). /proc/sys is a
# read-only mount: a default VPS's root is not the owner of the host's
# sysctls (EACCES first); a privileged one is, through its identity map, and
# meets the read-only mount (EROFS).
test_host_global_writes_are_refused() {
        attempt_refused hgd EACCES write /proc/sys/kernel/core_pattern
        attempt_refused hgp EROFS write /proc/sys/kernel/core_pattern
        for v in $VPS_KINDS; do
                attempt_refused "$v" EROFS write /sys/kernel/mm/transparent_hugepage/enabled
        done
}

# Files only root may read that map the host's physical memory: masked
# (a privileged VPS's root passes their root-only mode).
test_physical_memory_maps_are_masked() {
        local f
        for f in kpageflags kpagecount; do
                [ -e "/proc/$f" ] || continue
                expect_eq 8 "$(head -c 8 "/proc/$f" | wc -c)" "control: the host reads /proc/$f"
                for v in $VPS_KINDS; do
                        inside_vps "$v"
                        expect_eq 0 "$(vs exec "$v" -- sh -c "head -c 8 /proc/$f 2>/dev/null | wc -c")" \
                                "/proc/$f in $v"
                done
        done
}

# Its cgroup namespace shows the VPS its own cgroup as the root; the limits
# vsd wrote there are vsd's to change, not the VPS's root's, which owns
# host-root files through a privileged VPS's identity map. What it creates
# below is its own.
CG_MOUNT_V1='mkdir -p /tmp/cg/memory /tmp/cg/pids &&
        mount -t cgroup -o memory none /tmp/cg/memory && mount -t cgroup -o pids none /tmp/cg/pids'
CG_FILES_V1="memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max"
CG_MOUNT_V2='mkdir -p /tmp/cg/memory /tmp/cg/pids && mount -t cgroup2 none /tmp/cg/memory &&
        mount --bind /tmp/cg/memory /tmp/cg/pids'
CG_FILES_V2="memory/memory.max memory/memory.swap.max pids/pids.max memory/cpu.max"

test_own_cgroup_limits_cannot_be_raised_from_inside() {
        local v file mode=V1 pids_dir mount_var files_var
        [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] || mode=V2
        mount_var=CG_MOUNT_$mode
        files_var=CG_FILES_$mode
        for v in $VPS_KINDS; do
                vs exec "$v" -- sh -c "${!mount_var}"
                for file in ${!files_var}; do
                        vs exec "$v" -- test -e "/tmp/cg/$file" || continue
                        attempt_refused "$v" EACCES write "/tmp/cg/$file"
                done
                vs exec "$v" -- umount /tmp/cg/memory /tmp/cg/pids
        done
        # a privileged VPS's root owns what it makes below its own cgroup
        vs exec hgp -- sh -c "${!mount_var} && mkdir /tmp/cg/pids/sub &&
                rmdir /tmp/cg/pids/sub && umount /tmp/cg/memory /tmp/cg/pids" ||
                fail "a cgroup of its own below"
        # vsd itself still changes them
        vs set hgp --numproc 500 --no-save
        pids_dir=$(cgroup_dirs | grep '/pids/' || cgroup_dirs | head -1)
        expect_eq 500 "$(cat "$pids_dir/default/hgp/pids.max")" "vsd's write"
}

test_privileged_vps_is_host_uid_0_in_its_own_user_namespace() {
        # its files keep host uid 0 (the Vserver model) ...
        vs exec hgp -- sh -c 'echo x > /root/mine'
        expect_eq "0:0" "$(stat -c %u:%g "$(vps_dir hgp)/upper/root/mine")" "owner on the host"
        # ... through an identity map, in a user namespace of its own
        expect_eq "0 0 65536" "$(vs exec hgp -- cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')" \
                "uid map"
        local pid inside
        pid=$(vs list -H -o name,pid | awk '$1 == "hgp" {print $2}')
        inside=$(stat -L -c %i "/proc/$pid/ns/user")
        [ "$inside" != "$(stat -L -c %i /proc/self/ns/user)" ] || fail "the host's user namespace"
}

# A privileged VPS's root makes real setuid-root files in its upper layer;
# no host user may reach them (vsd's VPS directory is root's alone).
test_host_users_cannot_reach_a_privileged_vps_files() {
        local file
        file=$(vps_dir hgp)/upper/tmp/suid
        vs exec hgp -- sh -c 'cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid'
        expect_eq "0 4755" "$(stat -c '%u %a' "$file")" "a setuid-root file on the host"
        # the test's root stands for /, which every user may traverse
        trap 'chmod 0700 "$R"' EXIT
        chmod 0711 "$R"
        expect_rc 1 "a host user reaches it" -- setpriv --reuid=65534 --regid=65534 --clear-groups \
                -- test -e "$file"
        chmod 0700 "$R"
        expect_eq 700 "$(stat -c %a "$R/var/lib/paene/vps")" "mode of the VPS directory"
        rm -f "$file"
}

before_each() { host_global_setup; }
run_tests
