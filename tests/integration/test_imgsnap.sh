#!/bin/bash
# A running VPS on a disk image (issue 17): snapshot, clone and backup while
# it runs. Its image is copied running in the rounds a migration sends
# (cow-fs/imagesync.c), then the VPS is frozen, its file system frozen
# (FIFREEZE: on disk, its superblock's counts written) and only the blocks
# that changed are copied. A writer inside keeps writing throughout: the
# copy must be a clean file system (e2fsck -fn) holding every step the
# writer logged before the copy's moment whole, and it must start.
. "$(dirname "$0")/lib.sh"

v2_events() {
        local d
        for d in $(cgroup_dirs); do
                [ -e "$d/default/$1/cgroup.events" ] && echo "$d/default/$1/cgroup.events"
        done
        return 0
}

snap_field() { # VPS SNAP FIELD
        vs snapshot list -j "$1" | python3 -c '
import json, sys
print(*[s[sys.argv[2]] for s in json.load(sys.stdin) if s["name"] == sys.argv[1]])' "$2" "$3"
}

# A file of an image, read without mounting it.
image_cat() { debugfs -R "cat $2" "$1" 2>/dev/null; }

# An image VPS NAME with a 32M file of random data (its md5 in
# $R/NAME.md5), a directory of 1500 files (hash-indexed: a copy that loses
# the file system's hash seed has names the kernel cannot find) and a
# writer: step i writes steps/.t (4 KiB of lines "i"),
# renames it to steps/i, then appends i to /root/log.
make_writing_vps() { # name
        local vps=$1
        vs create "$1" --template busybox --diskspace 256M
        vs start "$1"
        vs exec "$1" -- sh -c 'dd if=/dev/urandom of=/root/big bs=1M count=32 2>/dev/null && md5sum /root/big' | cut -d' ' -f1 >"$R/$1.md5"
        vs exec "$1" -- sh -c 'mkdir /root/many && cd /root/many && i=0 && while [ $i -lt 1500 ]; do i=$((i+1)); : >f$i; done'
        vs exec "$1" -- sh -c 'mkdir /root/steps; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); yes $i | head -c 4096 >/root/steps/.t; mv /root/steps/.t /root/steps/$i; echo $i >>/root/log; done >/dev/null 2>&1 &'
        wait_for 10 '[ "$(vs exec "$vps" -- cat /root/log 2>/dev/null | wc -l)" -gt 5 ]' || fail "the writer does not run"
}

logged() { vs exec "$1" -- cat /root/log | wc -l; }

# How many of the 1500 files of /root/many the kernel finds by name.
many_found() {
        vs exec "$1" -- sh -c 'cd /root/many && n=0 && i=0 && while [ $i -lt 1500 ]; do i=$((i+1)); [ -e f$i ] && n=$((n+1)); done; echo $n'
}

# check_copy IMAGE BEFORE WHAT: IMAGE (not mounted) is a clean file system
# whose writer's log is whole and ends at a step after BEFORE, whose steps
# are there whole, and whose big file is the one written.
check_copy() {
        local img=$1 before=$2 what=$3 n steps
        e2fsck -fn "$img" >"$R/fsck.out" 2>&1 || fail "$what: the image is not clean: $(cat "$R/fsck.out")"
        image_cat "$img" /upper/root/log >"$R/log"
        n=$(tail -1 "$R/log")
        [ -n "$n" ] || fail "$what: no log"
        [ "$n" -gt "$before" ] || fail "$what: of before the copy ($n <= $before)"
        expect_eq "$(seq 1 "$n" | md5sum)" "$(md5sum <"$R/log")" "$what: the log is whole"
        steps=$(debugfs -R "ls -p /upper/root/steps" "$img" 2>/dev/null | awk -F/ '$6 ~ /^[0-9]+$/ {print $6}' | sort -n)
        # the step being written at the moment may be there or not, whole
        [ "$(echo "$steps" | head -"$n" | xargs)" = "$(seq 1 "$n" | xargs)" ] || fail "$what: steps missing"
        for s in 1 $((n / 2)) "$n" $(echo "$steps" | tail -1); do
                expect_eq "$(yes "$s" | head -c 4096 | md5sum)" "$(image_cat "$img" "/upper/root/steps/$s" | md5sum)" "$what: step $s whole"
        done
        expect_eq "$(cat "$R/${4:-x}.md5" 2>/dev/null || true)" "$(image_cat "$img" /upper/root/big | md5sum | cut -d' ' -f1)" "$what: the big file"
}

test_a_running_image_vps_snapshots_while_it_writes() {
        local ev before n
        make_writing_vps is1
        ev=$(v2_events is1)
        before=$(logged is1)
        expect_rc 0 "snapshot of a running image VPS" -- vs snapshot is1 live
        [[ $OUT =~ ^is1\ snapshot\ live\ taken\ \(frozen\ [0-9]+\ ms\)$ ]] || fail "report: $OUT"
        expect_contains "$(cat "$ev")" "frozen 0" "thawed after the copy"
        expect_eq "True image" "$(snap_field is1 live live) $(snap_field is1 live backend)" "meta"
        check_copy "$(vps_dir is1)/snapshots/live/disk.img" "$before" "snapshot" is1
        n=$(tail -1 "$R/log")
        # the VPS ran on: its writer goes past the snapshot's step
        wait_for 10 '[ "$(logged is1)" -gt "$n" ]' || fail "the writer stopped"
        expect_eq "" "$(ls -A "$(vps_dir is1)/snapshots" | grep -v '^live$' || true)" "nothing half-made"
        vs stop is1
        expect_rc 0 "restore" -- vs snapshot restore is1 live
        vs start is1
        expect_eq "$n" "$(vs exec is1 -- tail -1 /root/log)" "restored: the log of the snapshot's moment"
        expect_eq "$(cat "$R/is1.md5")" "$(vs exec is1 -- md5sum /root/big | cut -d' ' -f1)" "restored: the big file"
        vs destroy --force is1
}

test_a_running_image_vps_clones_and_the_clone_starts() {
        local ev before
        make_writing_vps ic1
        ev=$(v2_events ic1)
        before=$(logged ic1)
        expect_rc 0 "clone of a running image VPS" -- vs clone ic1 ic2
        expect_contains "$(cat "$ev")" "frozen 0" "the source is thawed"
        expect_eq running "$(state_of ic1)" "the source runs on"
        check_copy "$(vps_dir ic2)/disk.img" "$before" "clone" ic1
        expect_eq ic1 "$(sed -n 's/^cloned_from = //p' "$(vps_dir ic2)/config")" "origin"
        vs start ic2
        expect_eq "$(tail -1 "$R/log")" "$(vs exec ic2 -- tail -1 /root/log)" "the clone runs with the files"
        expect_eq 1500 "$(many_found ic2)" "the clone finds every name of a large directory"
        expect_eq 0 "$(vs exec ic2 -- stat -c %u /root/log)" "owned by its root inside"
        vs destroy --force ic2
        vs destroy --force ic1
}

test_a_running_image_vps_backs_up_and_restores_on_another_name() {
        local f=$R/ib1.tar.zst before tmp
        make_writing_vps ib1
        before=$(logged ib1)
        expect_rc 0 "backup of a running image VPS" -- vs backup ib1 "$f"
        expect_eq running "$(state_of ib1)" "the source runs on"
        expect_contains "$(cat "$(v2_events ib1)")" "frozen 0" "thawed"
        expect_eq "config disk.img paene-backup" "$(tar --zstd -tf "$f" | sort | xargs)" "members"
        expect_eq "" "$(ls -A "$(vps_dir ib1)" | grep -e '^\.backup' -e creating || true)" "its temporary copy is gone"
        tmp=$R/ib1.x
        mkdir "$tmp" && tar --zstd -xf "$f" -C "$tmp" disk.img
        check_copy "$tmp/disk.img" "$before" "backup" ib1
        rm -rf "$tmp"
        expect_rc 0 "restore as ib2" -- vs restore "$f" ib2
        vs start ib2
        expect_eq "$(tail -1 "$R/log")" "$(vs exec ib2 -- tail -1 /root/log)" "the restored VPS has the files"
        expect_eq 1500 "$(many_found ib2)" "the restored VPS finds every name of a large directory"
        vs destroy --force ib2
        vs destroy --force ib1
}

# A worker killed in the frozen step (its cgroup frozen, its file system
# FIFREEZE'd): vsd thaws both, the VPS's writer goes on, the snapshot is
# not listed and its partial copy goes at the next snapshot command.
# frozen_snapshot VPS SNAP: a snapshot in the background (its job in
# SNAP_PID, vsctl's output in $R/snap.out) caught in its frozen step:
# WORKER is its worker's pid then. 600 MB of data in an image of 1G make
# that step long enough to be seen.
frozen_snapshot() {
        local vps=$1 ev k v deadline vpid
        vs create "$vps" --template busybox --diskspace 1G
        vs start "$vps"
        vs exec "$vps" -- sh -c 'dd if=/dev/zero of=/root/fill bs=1M count=600 2>/dev/null; i=0; while :; do i=$((i+1)); echo $i >>/root/log; done >/dev/null 2>&1 &'
        wait_for 10 '[ "$(logged "$vps")" -gt 5 ]' || fail "the writer does not run"
        ev=$(v2_events "$vps")
        vs snapshot "$vps" "$2" >"$R/snap.out" 2>&1 &
        SNAP_PID=$!
        WORKER=""
        vpid=$(vsd_pid)
        deadline=$((SECONDS + $(scaled 60)))
        # the worker first, then its frozen step seen with builtins alone,
        # so that the caller's kill comes within it
        while [ -z "$WORKER" ] && [ "$SECONDS" -lt "$deadline" ] && kill -0 "$SNAP_PID" 2>/dev/null; do
                WORKER=$(pgrep -P "$vpid" -x vsd-snapshot || true)
        done
        [ -n "$WORKER" ] || fail "no worker of the snapshot (the snapshot: $(cat "$R/snap.out"))"
        while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$SNAP_PID" 2>/dev/null; do
                while read -r k v; do
                        [ "$k $v" = "frozen 1" ] && return 0
                done <"$ev"
        done
        fail "the frozen step was not seen (the snapshot: $(cat "$R/snap.out"))"
}

test_a_worker_killed_while_frozen_leaves_the_vps_running_and_thawed() {
        local ev n snap_pid
        frozen_snapshot ik1 k
        kill -9 "$WORKER"
        ev=$(v2_events ik1)
        snap_pid=$SNAP_PID
        wait "$snap_pid" && fail "the snapshot of a killed worker succeeded"
        expect_eq 1 "$(wc -l <"$R/snap.out")" "one line: $(cat "$R/snap.out")"
        wait_for 10 'grep -q "frozen 0" "$ev"' || fail "left frozen"
        n=$(logged ik1)
        wait_for 10 '[ "$(logged ik1)" -gt "$n" ]' || fail "the writer hangs (its file system frozen?)"
        expect_eq "" "$(vs snapshot list -j ik1 | python3 -c 'import json, sys; print(*[s["name"] for s in json.load(sys.stdin)])')" "no snapshot listed"
        expect_rc 0 "the next snapshot" -- vs snapshot ik1 after
        expect_eq "after" "$(ls -A "$(vps_dir ik1)/snapshots" | xargs)" "the partial copy is gone"
        vs destroy --force ik1
}

# vsd killed in the frozen step (its worker goes with it): the next vsd
# finds the mark of the frozen step and thaws the image's file system and
# the cgroup when it adopts the VPS.
test_a_vsd_killed_while_frozen_thaws_the_vps_at_its_restart() {
        local ev n pid
        pid=$(vsd_pid)
        frozen_snapshot iv1 k
        kill -9 "$pid"
        ev=$(v2_events iv1)
        wait "$SNAP_PID" && fail "the snapshot of a killed vsd succeeded"
        start_vsd || fail "vsd did not start again"
        wait_for 10 'grep -q "frozen 0" "$ev"' || fail "left frozen"
        n=$(logged iv1)
        wait_for 10 '[ "$(logged iv1)" -gt "$n" ]' || fail "the writer hangs (its file system frozen?)"
        [ ! -e "$R/run/paene/iv1.frozen" ] || fail "the mark is left"
        expect_rc 0 "the next snapshot" -- vs snapshot iv1 after
        expect_eq "after" "$(ls -A "$(vps_dir iv1)/snapshots" | xargs)" "the partial copy is gone"
        vs destroy --force iv1
}

# Refused before anything is frozen or copied: one line each, the source
# running and thawed, nothing half-made.
test_refusals_of_a_running_image_vps_change_nothing() {
        vs create ir1 --template busybox --diskspace 32M
        vs create ir2 --template busybox
        vs start ir1
        vs snapshot ir1 a >/dev/null
        expect_rc 4 "clone onto a name that exists" -- vs clone ir1 ir2
        expect_eq "vsctl: clone ir1: VPS ir2 already exists" "$ERR" "message"
        expect_rc 4 "a snapshot name taken" -- vs snapshot ir1 a
        expect_eq "vsctl: snapshot ir1: snapshot a of ir1 already exists" "$ERR" "message"
        expect_rc 4 "restore onto a running VPS" -- vs snapshot restore ir1 a
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_contains "$(cat "$(v2_events ir1)")" "frozen 0" "not left frozen"
        expect_eq running "$(state_of ir1)" "runs on"
        expect_eq "a" "$(ls -A "$(vps_dir ir1)/snapshots" | xargs)" "nothing half-made"
        expect_eq "ir1 ir2" "$(ls "$R/var/lib/paene/vps" | xargs)" "no clone made"
        vs destroy --force ir1
        vs destroy ir2
}

run_tests
