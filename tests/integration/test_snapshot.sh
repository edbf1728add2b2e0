#!/bin/bash
# vsctl snapshot (issue 17): point-in-time copies of a VPS's own layer,
# taken of a running VPS (copied running, frozen only for a second pass
# over what it changed meanwhile), listed, restored onto the stopped VPS,
# deleted; for the dir and the disk image backend.
. "$(dirname "$0")/lib.sh"

# The cgroup.events of a VPS's cgroup on the v2 (or hybrid's unified) hierarchy.
v2_events() {
        local d
        for d in $(cgroup_dirs); do
                [ -e "$d/default/$1/cgroup.events" ] && echo "$d/default/$1/cgroup.events"
        done
        return 0
}

snap_names() { vs snapshot list -j "$1" | python3 -c 'import json, sys; print(" ".join(s["name"] for s in json.load(sys.stdin)))'; }
snap_field() { # VPS SNAP FIELD
        vs snapshot list -j "$1" | python3 -c '
import json, sys
print(*[s[sys.argv[2]] for s in json.load(sys.stdin) if s["name"] == sys.argv[1]])' "$2" "$3"
}

test_snapshot_of_a_running_vps_and_restore() {
        local ev out
        vs create sn1 --template busybox
        vs start sn1
        vs exec sn1 -- sh -c 'echo one >/root/data && echo gone-later >/root/other && mkdir /srv && chown 33:33 /srv'
        ev=$(v2_events sn1)
        [ -n "$ev" ] || fail "no cgroup v2 hierarchy for the freezer"
        expect_rc 0 "snapshot of a running VPS" -- vs snapshot sn1 first
        [[ $OUT =~ ^sn1\ snapshot\ first\ taken\ \(frozen\ [0-9]+\ ms\)$ ]] || fail "report: $OUT"
        expect_contains "$(cat "$ev")" "frozen 0" "thawed after the copy"
        expect_eq True "$(snap_field sn1 first live)" "taken live (frozen)"
        expect_eq one "$(cat "$(vps_dir sn1)/snapshots/first/upper/root/data")" "the copy"
        # the copy is not the layer: the VPS writes on, the snapshot stays
        vs exec sn1 -- sh -c 'echo two >/root/data && rm /root/other && echo new >/root/added'
        expect_eq one "$(cat "$(vps_dir sn1)/snapshots/first/upper/root/data")" "snapshot unchanged"
        expect_rc 0 "a snapshot named by its time" -- vs snapshot sn1
        [[ $OUT =~ ^sn1\ snapshot\ (s[0-9]{8}-[0-9]{6})\ taken ]] || fail "default name: $OUT"
        local second=${BASH_REMATCH[1]}
        expect_eq "first $second" "$(snap_names sn1)" "list, oldest first"
        out=$(vs snapshot list sn1)
        expect_eq "SNAPSHOT CREATED SIZE LIVE BACKEND" "$(echo "$out" | head -1 | tr -s ' ')" "table header"
        expect_contains "$out" "dir" "table backend"
        expect_rc 4 "restore of a running VPS" -- vs snapshot restore sn1 first
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_contains "$ERR" "stop it to restore a snapshot" "message"
        expect_eq two "$(vs exec sn1 -- cat /root/data)" "runs on, unchanged"
        vs stop sn1
        expect_rc 0 "restore" -- vs snapshot restore sn1 first
        expect_eq "sn1 snapshot first restored" "$OUT" "report"
        vs start sn1
        expect_eq one "$(vs exec sn1 -- cat /root/data)" "file content back"
        expect_eq gone-later "$(vs exec sn1 -- cat /root/other)" "deleted file back"
        expect_rc 1 "file written after it" -- vs exec sn1 -- test -e /root/added
        expect_eq 33 "$(vs exec sn1 -- stat -c %u /srv)" "owner inside"
        vs stop sn1
        expect_rc 0 "restore the later one" -- vs snapshot restore sn1 "$second"
        vs start sn1
        expect_eq "two new" "$(vs exec sn1 -- cat /root/data /root/added | xargs)" "later state"
        expect_rc 0 "delete" -- vs snapshot delete sn1 first
        expect_eq "$second" "$(snap_names sn1)" "deleted from the list"
        [ ! -e "$(vps_dir sn1)/snapshots/first" ] || fail "its files are left"
        expect_eq "" "$(ls -A "$(vps_dir sn1)/snapshots" | grep -v "^$second\$" || true)" "nothing else left"
        expect_eq "" "$(ls -A "$(vps_dir sn1)" | grep '^\.' || true)" "no restore leftover"
        vs destroy --force sn1
        [ ! -e "$(vps_dir sn1)" ] || fail "snapshots outlive the VPS"
}

# The bulk of the copy is made with the VPS running: while the snapshot's
# copy is under way (its .SNAP.creating exists) the cgroup is not frozen
# and a process inside goes on writing. What it writes during the copy is
# in the snapshot or not, but the snapshot is one moment of the VPS: every
# step its log names is there whole.
test_a_running_vps_runs_while_its_snapshot_copies() {
        local ev creating snap_pid before ran=0 frozen_seen=0 n
        vs create sn2 --template busybox
        vs start sn2
        vs exec sn2 -- dd if=/dev/zero of=/root/big bs=1M count=256 2>/dev/null
        vs exec sn2 -- sh -c 'mkdir /root/steps; i=0; while :; do i=$((i+1)); echo $i >/root/steps/.t; mv /root/steps/.t /root/steps/$i; echo $i >>/root/log; done >/dev/null 2>&1 &'
        wait_for 10 '[ -s "$(vps_dir sn2)/upper/root/log" ]' || fail "the writer does not run"
        ev=$(v2_events sn2)
        creating=$(vps_dir sn2)/snapshots/.live.creating
        vs snapshot sn2 live >"$R/snap.out" 2>&1 &
        snap_pid=$!
        wait_for 30 '[ -d "$creating" ] || ! kill -0 $snap_pid 2>/dev/null' || fail "no copy under way"
        before=$(wc -l <"$(vps_dir sn2)/upper/root/log")
        while [ -d "$creating" ]; do
                grep -q "frozen 1" "$ev" && frozen_seen=1
                [ "$(wc -l <"$(vps_dir sn2)/upper/root/log")" -gt "$((before + 10))" ] && ran=1 && break
                sleep 0.05
        done
        wait "$snap_pid" || fail "snapshot: $(cat "$R/snap.out")"
        expect_eq 1 "$ran" "the VPS's process ran on during the copy (frozen seen: $frozen_seen)"
        expect_contains "$(cat "$ev")" "frozen 0" "thawed after"
        n=$(tail -1 "$(vps_dir sn2)/snapshots/live/upper/root/log")
        [ -n "$n" ] || fail "the snapshot has no log"
        [ "$n" -gt "$before" ] || fail "the snapshot is of before the copy ($n <= $before)"
        expect_eq "$n" "$(cat "$(vps_dir sn2)/snapshots/live/upper/root/steps/$n")" "the last logged step is whole"
        expect_eq "$(seq 1 "$n" | xargs)" "$(xargs <"$(vps_dir sn2)/snapshots/live/upper/root/log")" "the log is whole"
        [ "$(stat -c %s "$(vps_dir sn2)/snapshots/live/upper/root/big")" = $((256 << 20)) ] || fail "the big file is not whole"
        vs destroy --force sn2
}

test_snapshot_refusals_change_nothing() {
        vs create sr1 --template busybox
        vs snapshot sr1 a >/dev/null
        expect_rc 3 "of no VPS" -- vs snapshot nosuch
        expect_rc 4 "a name taken" -- vs snapshot sr1 a
        expect_eq "vsctl: snapshot sr1: snapshot a of sr1 already exists" "$ERR" "message"
        expect_rc 2 "a bad name" -- vs snapshot sr1 ../x
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_rc 3 "restore of no snapshot" -- vs snapshot restore sr1 b
        expect_eq "vsctl: snapshot restore sr1: sr1 has no snapshot b" "$ERR" "message"
        expect_rc 3 "delete of no snapshot" -- vs snapshot delete sr1 b
        expect_rc 2 "restore without a name" -- vs snapshot restore sr1
        expect_rc 2 "unknown option" -- vs snapshot list sr1 --colour
        expect_eq "a" "$(snap_names sr1)" "the one snapshot"
        expect_eq "a" "$(ls -A "$(vps_dir sr1)/snapshots" | xargs)" "nothing half-made"
        # what a crash leaves is cleaned by the next snapshot command
        mkdir "$(vps_dir sr1)/snapshots/.c.creating" "$(vps_dir sr1)/.snapshot-restore"
        expect_eq "a" "$(snap_names sr1)" "a leftover is not listed"
        vs snapshot sr1 c >/dev/null
        expect_eq "a c" "$(ls -A "$(vps_dir sr1)/snapshots" | xargs)" "leftover removed"
        [ ! -e "$(vps_dir sr1)/.snapshot-restore" ] || fail "restore leftover kept"
        vs destroy sr1
}

test_snapshot_of_an_image_vps() {
        vs create si1 --template busybox --diskspace 32M
        vs start si1
        vs exec si1 -- sh -c 'echo one >/root/data'
        # a running one is copied running (test_imgsnap.sh has its writer)
        expect_rc 0 "a running VPS on a disk image" -- vs snapshot si1 r
        expect_eq "True image" "$(snap_field si1 r live) $(snap_field si1 r backend)" "meta, live"
        expect_contains "$(cat "$(v2_events si1)")" "frozen 0" "not left frozen"
        vs snapshot delete si1 r >/dev/null
        vs stop si1
        expect_rc 0 "a stopped one" -- vs snapshot si1 a
        expect_eq "False image" "$(snap_field si1 a live) $(snap_field si1 a backend)" "meta"
        [ "$(du -k "$(vps_dir si1)/snapshots/a/disk.img" | cut -f1)" -lt 8192 ] || fail "snapshot image is not sparse"
        vs start si1
        vs exec si1 -- sh -c 'echo two >/root/data && echo x >/root/added'
        vs stop si1
        expect_rc 0 "restore" -- vs snapshot restore si1 a
        e2fsck -fn "$(vps_dir si1)/disk.img" >/dev/null 2>&1 || fail "restored image not clean"
        vs start si1
        expect_eq one "$(vs exec si1 -- cat /root/data)" "content back"
        expect_rc 1 "file written after it" -- vs exec si1 -- test -e /root/added
        vs destroy --force si1
}

run_tests
