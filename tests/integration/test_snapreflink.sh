#!/bin/bash
# Snapshots and clones where the file system shares extents (issue 17): a
# second vsd whose whole root is on an XFS (reflink=1) or btrfs file system
# on a loop device of the test's own. A snapshot and a clone of a running
# VPS with 64 MB of its own files take no room for the data (the free space
# stays, the copy's extents are FIEMAP_EXTENT_SHARED with the VPS's), a
# write in the VPS after the snapshot leaves the snapshot's copy as it was,
# a restore brings the data back, and the overlay runs with its upper on the
# file system (start, write, stop, start). Each test makes the file system,
# its loop device and its mounts and removes them, also when it fails.
. "$(dirname "$0")/lib.sh"

FS_IMG=""
FS_LOOP=""
T=""
TCG=""
tvs() { "$BIN/vsctl" --root "$T" "$@"; }
tvps_dir() { echo "$T/var/lib/paene/vps/$1"; }
tstate() { tvs list -a -H -o state "$1" | tr -d ' '; }

MB=$((1 << 20))

# make_fs xfs|btrfs: a 1 GB sparse image under $R on a loop device of its
# own, mounted on $R/FS, which becomes the second vsd's root $T; skips the
# test when this host cannot make or mount that file system.
make_fs() {
        local fs=$1
        case "$fs" in
        xfs) command -v mkfs.xfs >/dev/null || skip "no mkfs.xfs (xfsprogs: make deps installs it)" ;;
        btrfs) command -v mkfs.btrfs >/dev/null || skip "no mkfs.btrfs (btrfs-progs: make deps installs it)" ;;
        esac
        grep -qw "$fs" /proc/filesystems || modprobe "$fs" 2>/dev/null ||
                skip "the kernel has no $fs"
        FS_IMG=$R/$fs.img
        truncate -s 1G "$FS_IMG"
        case "$fs" in
        xfs) mkfs.xfs -q -m reflink=1 "$FS_IMG" ;;
        btrfs) mkfs.btrfs -q "$FS_IMG" >/dev/null ;;
        esac
        FS_LOOP=$(losetup -f --show "$FS_IMG")
        T=$R/$fs
        mkdir -p "$T"
        mount -t "$fs" "$FS_LOOP" "$T" || skip "cannot mount $fs on $FS_LOOP"
        expect_eq "$fs" "$(findmnt -n -o FSTYPE "$T")" "the root's file system"
        TCG=$CG-$fs
        R=$T CG=$TCG start_vsd || fail "vsd does not start on $fs"
        tvs template build busybox >/dev/null
}

# Everything make_fs and the test made goes (the test's EXIT trap): the
# VPS, vsd, its cgroups, the mounts under $T, the file system, the loop
# device, the image.
remove_fs() {
        local names n
        trap - ERR
        set +e
        if [ -n "$T" ] && [ -n "$(R=$T vsd_pid)" ] && ! is_dead "$(R=$T vsd_pid)"; then
                names=$(tvs list -a -H -o name 2>/dev/null)
                for n in $names; do tvs destroy --force "$n" >/dev/null 2>&1; done
        fi
        if [ -n "$T" ]; then
                R=$T stop_vsd
                R=$T stop_view
                R=$T CG=$TCG kill_leftovers
                R=$T CG=$TCG remove_cgroups
                # the mounts vsd made under its root (the netns pin), then the
                # file system itself, whole (a lazy unmount would keep the
                # loop device busy)
                awk -v r="$T" 'index($5, r "/") == 1 {print $5}' /proc/self/mountinfo |
                        sort -r | xargs -r umount -l
                findmnt -n "$T" >/dev/null && { umount "$T" || umount -l "$T"; }
                rmdir "$T"
        fi
        [ -z "$FS_LOOP" ] || losetup -d "$FS_LOOP"
        [ -z "$FS_IMG" ] || rm -f "$FS_IMG"
}

md5() { md5sum <"$1" | cut -d' ' -f1; }

# Free bytes of the file system holding $T, after its pending writes.
free_bytes() {
        sync -f "$T"
        stat -f -c '%a %S' "$T" | awk '{printf "%d", $1 * $2}'
}

# shared_extents FILE: "SHARED TOTAL", its extents FIEMAP flags shared
# with another file, and all of them (filefrag -v, FIEMAP after a sync).
shared_extents() {
        filefrag -s -v "$1" | awk '$1 ~ /^[0-9]+:$/ { n++; if ($NF ~ /shared/) s++ }
                END { printf "%d %d", s, n }'
}

# every_extent_shared FILE WHAT
every_extent_shared() {
        local got
        got=$(shared_extents "$1")
        [ "${got#* }" -gt 0 ] || fail "$2: no extents ($got)"
        expect_eq "${got#* } ${got#* }" "$got" "$2: shared extents of all"
}

# (the body for each file system)
snapshots_share_extents() {
        local fs=$1 free0 free1 free2 big snapbig sum used
        trap remove_fs EXIT
        make_fs "$fs"
        tvs create r1 --template busybox --ipadd none
        tvs start r1
        # the overlay with its upper on $fs: written, stopped, started again
        tvs exec r1 -- sh -c 'echo one >/root/small && head -c 67108864 /dev/urandom >/root/big && sync'
        tvs stop r1
        tvs start r1
        expect_eq one "$(tvs exec r1 -- cat /root/small)" "the overlay's upper on $fs keeps a file over a restart"
        big=$(tvps_dir r1)/upper/root/big
        expect_eq $((64 * MB)) "$(stat -c %s "$big")" "the VPS's own file"
        sum=$(md5 "$big")

        free0=$(free_bytes)
        expect_rc 0 "snapshot of the running VPS" -- tvs snapshot r1 s1
        [[ $OUT =~ ^r1\ snapshot\ s1\ taken\ \(frozen\ [0-9]+\ ms\)$ ]] || fail "report: $OUT"
        free1=$(free_bytes)
        used=$((free0 - free1))
        echo "    $fs: the snapshot of 64 MB took $((used / 1024)) kB" >&2
        [ "$used" -lt $((8 * MB)) ] || fail "the snapshot took $used bytes of $fs for 64 MB of data"
        snapbig=$(tvps_dir r1)/snapshots/s1/upper/root/big
        expect_eq "$sum" "$(md5 "$snapbig")" "the snapshot's copy"
        every_extent_shared "$snapbig" "the snapshot's copy"
        every_extent_shared "$big" "the VPS's file"

        expect_rc 0 "clone of the running VPS" -- tvs clone r1 r2
        free2=$(free_bytes)
        used=$((free1 - free2))
        echo "    $fs: the clone of 64 MB took $((used / 1024)) kB" >&2
        [ "$used" -lt $((8 * MB)) ] || fail "the clone took $used bytes of $fs for 64 MB of data"
        every_extent_shared "$(tvps_dir r2)/upper/root/big" "the clone's copy"
        expect_eq running "$(tstate r1)" "the source runs on"

        # a write in the VPS after the snapshot: copy on write, the snapshot's
        # copy stays, and the written extent is the VPS's own
        tvs exec r1 -- sh -c 'head -c 1048576 /dev/urandom | dd of=/root/big bs=1M seek=3 conv=notrunc 2>/dev/null && sync'
        [ "$(md5 "$big")" != "$sum" ] || fail "the write did not reach the VPS's file"
        expect_eq "$sum" "$(md5 "$snapbig")" "the snapshot's copy after a write in the VPS"
        every_extent_shared "$(tvps_dir r2)/upper/root/big" "the clone's copy after a write in the VPS"
        local after
        after=$(shared_extents "$big")
        [ "${after%% *}" -lt "${after#* }" ] || fail "the VPS's written extent is still shared ($after)"

        tvs start r2
        expect_eq "$sum" "$(tvs exec r2 -- md5sum /root/big | cut -d' ' -f1)" \
                "the clone runs with the data"
        tvs stop r1
        expect_rc 0 "restore" -- tvs snapshot restore r1 s1
        tvs start r1
        expect_eq "$sum" "$(tvs exec r1 -- md5sum /root/big | cut -d' ' -f1)" "restored data"
        expect_eq one "$(tvs exec r1 -- cat /root/small)" "restored file"
        every_extent_shared "$big" "the restored file"
        tvs stop r1
        tvs stop r2
}

test_snapshot_and_clone_on_xfs_share_extents() { snapshots_share_extents xfs; }
test_snapshot_and_clone_on_btrfs_share_extents() { snapshots_share_extents btrfs; }

run_tests "$@"
