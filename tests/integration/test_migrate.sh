#!/bin/bash
# Migration (vsctl migrate, issue 17) between two vsd on this machine, each
# with its own root, cgroup name and network namespace: the file's vsd is
# the source, a second one under $R/target (started and removed by each
# test) the target. A running VPS moves with its files, changes made during
# the copy, its address; the source keeps nothing; a refusal or a target
# that dies half way leaves the source running and unchanged and nothing
# on the target.
. "$(dirname "$0")/lib.sh"
# shellcheck source=netlib.sh
. "$(dirname "$0")/netlib.sh"

T=""
TCG=""
tvs() { "$BIN/vsctl" --root "$T" "$@"; }
in_target() { nsenter --net="$T/netns" "$@"; }
tvps_dir() { echo "$T/var/lib/paene/vps/$1"; }

start_target() {
        T=$R/target
        TCG=$CG-t
        mkdir -p "$T"
        R=$T CG=$TCG start_vsd || return 1
        [ -d "$T/var/lib/paene/templates/busybox" ] || tvs template build busybox >/dev/null
}

# The target goes with everything it made (run from the test's EXIT trap).
stop_target() {
        local names n
        # cleanup, after the test's verdict: what fails here is not the test's
        trap - ERR
        set +e
        [ -n "$T" ] && [ -d "$T" ] || return 0
        if [ -n "$(R=$T vsd_pid)" ] && ! is_dead "$(R=$T vsd_pid)"; then
                names=$(tvs list -a -H -o name 2>/dev/null)
                for n in $names; do tvs destroy --force "$n" >/dev/null 2>&1; done
        fi
        R=$T stop_vsd
        R=$T stop_view
        R=$T CG=$TCG kill_leftovers
        R=$T CG=$TCG remove_cgroups
        awk -v r="$T" 'index($5, r "/") == 1 || $5 == r {print $5}' /proc/self/mountinfo |
                sort -r | xargs -r umount -l
        rm -rf "$T"
}

# The md5 of every regular file of a layer, and each entry's owner (less
# the VPS's id base, $2) and mode.
layer_sums() {
        (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum &&
                find . -printf '%p %U %G %m %y\n' | LC_ALL=C sort |
                awk -v b="${2:-0}" '{print $1, $2 - b, $3 - b, $4, $5}')
}

# The PAENE_MIGRATE_HOLD hook: the conductor (PID, vsctl itself) waits
# after its first round until the FIFO it opens is closed. hold_open opens
# it for writing without blocking and waits, bounded, until the conductor
# has it open too (it is there, the staging holds the first round, or it
# failed before); release_hold lets it go on.
fifo_held_by() { # pid fifo
        local f
        for f in /proc/"$1"/fd/*; do
                [ "$(readlink "$f" 2>/dev/null)" = "$2" ] && return 0
        done
        return 1
}
hold_open() { # pid fifo
        exec 3<>"$2"
        wait_for 120 "fifo_held_by $1 $2 || is_dead $1" || true
        fifo_held_by "$1" "$2" || fail "the migration did not reach its first hold"
}
release_hold() { exec 3>&-; }

# What README.md's "The VPS" says a VPS's directory holds.
VPS_DIR_ENTRIES="config state upper work disk disk.img rootfs lower console.log console.log.1 console.sock snapshots"

# The tar processes of either vsd (children of vsd or of its forks).
our_tars() {
        local p
        for p in $(pgrep -x tar); do
                case "$(readlink "/proc/$p/cwd" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in
                *"$R/"*) echo "$p" ;;
                esac
        done
}

make_busy_vps() { # name
        vs create "$1" --template busybox
        vs start "$1"
        vs exec "$1" -- sh -c 'mkdir -p /root/d && head -c 3000000 /dev/urandom > /root/big &&
                echo keep > /root/d/keep && echo old > /root/change && echo bye > /root/gone &&
                chown 1000:1000 /root/d/keep && chmod 640 /root/d/keep'
}

test_a_running_vps_migrates_with_its_files_address_and_changes() {
        trap stop_target EXIT
        start_target
        make_busy_vps m1
        local ip fifo=$R/hold pid sums
        ip=$(vs list -H -o ip m1 | tr -d ' ')
        ip=${ip%%/*}
        in_host busybox ping -c 1 -W 3 "$ip" >/dev/null || fail "the source's namespace reaches $ip first"
        mkfifo "$fifo"
        PAENE_MIGRATE_HOLD=$fifo "$BIN/vsctl" --root "$R" migrate m1 "$T" >"$R/mig.out" 2>"$R/mig.err" &
        pid=$!
        # the first round is in the target's staging; change files meanwhile
        hold_open "$pid" "$fifo"
        [ -s "$(tvps_dir .m1.migrate.creating)/upper/root/big" ] || fail "no staging with the first round"
        expect_eq running "$(state_of m1)" "the source runs during the copy"
        vs exec m1 -- sh -c 'echo new > /root/change && rm /root/gone && echo late > /root/added'
        release_hold
        expect_job 0 "$pid" "migrate" || fail "$(cat "$R/mig.err")"
        expect_contains "$(cat "$R/mig.out")" "m1 migrated to $T (running" "report"
        # on the target: running, same files, same address, answering there
        expect_eq "m1 running" "$(tvs list -H -o name,state m1 | xargs)" "runs on the target"
        expect_eq "$ip" "$(tvs list -H -o ip m1 | tr -d ' ' | sed 's|/.*||')" "same address"
        in_target busybox ping -c 1 -W 3 "$ip" >/dev/null || fail "$ip does not answer in the target's namespace"
        expect_eq "new" "$(tvs exec m1 -- cat /root/change)" "a file changed during the copy"
        expect_eq "late" "$(tvs exec m1 -- cat /root/added)" "a file added during the copy"
        expect_rc 1 "a file deleted during the copy" -- tvs exec m1 -- test -e /root/gone
        expect_eq "keep 640" "$(tvs exec m1 -- sh -c 'cat /root/d/keep; stat -c %a /root/d/keep' | xargs)" "content and mode"
        expect_eq "1000:1000" "$(tvs exec m1 -- stat -c %u:%g /root/d/keep)" "owner inside the VPS"
        [ "$(tvs exec m1 -- md5sum /root/big | cut -d' ' -f1)" = "$(md5sum <"$(tvps_dir m1)/upper/root/big" | cut -d' ' -f1)" ] ||
                fail "big file differs inside and outside"
        sums=$(tvs list -H -o nproc m1 | tr -d ' ')
        [ "$sums" -ge 1 ] || fail "no process on the target"
        # the source has no trace: config, layer, cgroups, veth, address
        [ ! -e "$(vps_dir m1)" ] || fail "the source's directory is left"
        [ ! -e "$R/run/paene/m1.migrate.snar" ] || fail "the listing is left on the source"
        expect_rc 3 "the source has no m1" -- vs status m1
        expect_eq "" "$(our_cgroup_tree | lines_matching '/m1$')" "no cgroup of m1 on the source"
        expect_eq "" "$(links_of_type veth)" "no veth on the source"
        ! in_host busybox ping -c 1 -W 1 "$ip" >/dev/null 2>&1 || fail "$ip still answers in the source's namespace"
        tvs destroy --force m1 >/dev/null
}

test_the_files_arrive_byte_for_byte_and_ids_move_when_taken() {
        trap stop_target EXIT
        start_target
        # the target's first id range is taken: the VPS gets another one there
        tvs create other --template busybox --ipadd 10.77.0.50
        vs create m2 --template busybox
        vs start m2
        vs exec m2 -- sh -c 'mkdir -p /srv/a/b && head -c 200000 /dev/urandom > /srv/a/b/f &&
                ln -s /srv/a/b/f /srv/link && chown -R 33:33 /srv/a && mkfifo /srv/p'
        local before base_src base_tgt
        base_src=$(sed -n 's/^id_base = //p' "$(vps_dir m2)/config")
        vs stop m2
        before=$(layer_sums "$(vps_dir m2)/upper" "$base_src")
        vs start m2
        expect_rc 0 "migrate" -- vs migrate m2 "$T"
        base_tgt=$(sed -n 's/^id_base = //p' "$(tvps_dir m2)/config")
        [ "$base_tgt" != "$base_src" ] || fail "the id range was taken on the target and kept"
        [ "$base_tgt" != "$(sed -n 's/^id_base = //p' "$(tvps_dir other)/config")" ] || fail "id range shared"
        tvs stop m2
        expect_eq "$before" "$(layer_sums "$(tvps_dir m2)/upper" "$base_tgt")" "checksums, owners, modes, types"
        expect_eq "migrated_from = $(hostname)" "$(grep '^migrated_from' "$(tvps_dir m2)/config")" "origin in the config"
        tvs start m2
        expect_eq "33:33 /srv/a/b/f" "$(tvs exec m2 -- sh -c 'stat -c %u:%g /srv/a/b/f; readlink /srv/link' | xargs)" "ids and symlink in the VPS"
        tvs destroy --force m2 >/dev/null
        tvs destroy --force other >/dev/null
}

test_a_name_taken_on_the_target_is_refused_and_the_source_runs() {
        trap stop_target EXIT
        start_target
        make_busy_vps m3
        tvs create m3 --template busybox
        local before
        before=$(layer_sums "$(vps_dir m3)/upper")
        expect_rc 4 "name exists on the target" -- vs migrate m3 "$T"
        expect_eq "vsctl: migrate m3: target: VPS m3 already exists" "$ERR" "one line"
        expect_eq running "$(state_of m3)" "the source still runs"
        expect_eq "$before" "$(layer_sums "$(vps_dir m3)/upper")" "the source's files unchanged"
        expect_eq "" "$(ls -A "$T/var/lib/paene/vps" | lines_matching '^\.')" "nothing staged on the target"
        [ ! -e "$R/run/paene/m3.migrate.snar" ] || fail "the listing is left on the source"
        # the target's network cannot hold its address: another VPS has it
        tvs destroy --force m3 >/dev/null
        tvs create holder --template busybox --ipadd "$(vs list -H -o ip m3 | tr -d ' ' | sed 's|/.*||')"
        expect_rc 4 "its address is taken on the target" -- vs migrate m3 "$T"
        expect_contains "$ERR" "vsctl: migrate m3: target: the VPS's addresses cannot be this node's" "one line"
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line only"
        expect_eq running "$(state_of m3)" "the source still runs"
        expect_eq "" "$(ls -A "$T/var/lib/paene/vps" | lines_matching '^\.')" "nothing staged"
        tvs destroy --force holder >/dev/null
        expect_rc 3 "no such VPS" -- vs migrate nosuch "$T"
        expect_eq "vsctl: migrate nosuch: no such VPS" "$ERR" "message"
        expect_rc 6 "a target that is not there" -- vs migrate m3 "$R/nowhere"
        expect_contains "$ERR" "nowhere" "names it"
        mkdir -p "$R/novsd"
        expect_rc 6 "a root without a vsd" -- vs migrate m3 "$R/novsd"
        expect_contains "$ERR" "vsd is not running" "says why"
        expect_rc 2 "a bad ssh target" -- vs migrate m3 "ssh://"
        expect_rc 2 "no target" -- vs migrate m3
        expect_rc 2 "a stop timeout of zero" -- vs migrate m3 "$T" --timeout 0
        expect_contains "$ERR" "--timeout must be above zero" "names it"
        expect_eq running "$(state_of m3)" "still running after all that"
        vs destroy --force m3
}

# The overlay xattrs of a file in an image's upper layer (debugfs reads the
# image, not mounted).
image_xattrs() { # image path-in-image
        debugfs -R "ea_list /upper$2" "$1" 2>/dev/null | tr -d '\n'
}

make_image_vps() { # name
        vs create "$1" --template busybox --diskspace 64M
        vs start "$1"
        vs exec "$1" -- sh -c 'mkdir -p /root/d && head -c 3000000 /dev/urandom > /root/big &&
                echo keep > /root/d/keep && echo old > /root/change && echo bye > /root/gone &&
                chown 1000:1000 /root/d/keep && chmod 640 /root/d/keep &&
                echo "# local" >> /etc/profile'
}

# A VPS on a disk image goes as rounds of its image's blocks: the first
# while it runs, the changed blocks once it is stopped. Its files, the
# changes made during the copy, its address and its size limit are the
# same on the target, where the image is sparse and runs although its
# overlay origins named the source's template.
test_a_vps_on_a_disk_image_migrates_with_its_files_limit_and_address() {
        trap stop_target EXIT
        start_target
        make_image_vps mi1
        local ip fifo=$R/holdi pid staging big
        ip=$(vs list -H -o ip mi1 | tr -d ' ')
        ip=${ip%%/*}
        big=$(vs exec mi1 -- md5sum /root/big | cut -d' ' -f1)
        staging=$(tvps_dir .mi1.migrate.creating)
        mkfifo "$fifo"
        PAENE_MIGRATE_HOLD=$fifo "$BIN/vsctl" --root "$R" migrate mi1 "$T" >"$R/migi.out" 2>"$R/migi.err" &
        pid=$!
        hold_open "$pid" "$fifo"
        # the first round: the VPS's file system written back, its data sent
        [ "$(du -k "$staging/disk.img" | cut -f1)" -gt 2900 ] || fail "no staging with the first round's data"
        expect_eq running "$(state_of mi1)" "the source runs during the copy"
        vs exec mi1 -- sh -c 'echo new > /root/change && rm /root/gone && echo late > /root/added'
        release_hold
        expect_job 0 "$pid" "migrate" || fail "$(cat "$R/migi.err")"
        expect_contains "$(cat "$R/migi.out")" "mi1 migrated to $T (running" "report"
        expect_eq "mi1 running" "$(tvs list -H -o name,state mi1 | xargs)" "runs on the target"
        expect_eq "image" "$(sed -n 's/^disk_backend = //p' "$(tvps_dir mi1)/config")" "on its image"
        expect_eq "$ip" "$(tvs list -H -o ip mi1 | tr -d ' ' | sed 's|/.*||')" "same address"
        in_target busybox ping -c 1 -W 3 "$ip" >/dev/null || fail "$ip does not answer in the target's namespace"
        expect_eq "new" "$(tvs exec mi1 -- cat /root/change)" "a file changed during the copy"
        expect_eq "late" "$(tvs exec mi1 -- cat /root/added)" "a file added during the copy"
        expect_rc 1 "a file deleted during the copy" -- tvs exec mi1 -- test -e /root/gone
        expect_eq "keep 640 1000:1000" "$(tvs exec mi1 -- sh -c 'cat /root/d/keep; stat -c "%a %u:%g" /root/d/keep' | xargs)" "content, mode, owner"
        expect_eq "$big" "$(tvs exec mi1 -- md5sum /root/big | cut -d' ' -f1)" "the big file"
        expect_eq "# local" "$(tvs exec mi1 -- tail -1 /etc/profile)" "a template file it changed"
        # the limit: the image is 64M on the target too, and a VPS that
        # fills it is stopped at it
        expect_eq $((64 << 20)) "$(stat -c %s "$(tvps_dir mi1)/disk.img")" "the image's size"
        [ "$(du -k "$(tvps_dir mi1)/disk.img" | cut -f1)" -lt 32768 ] || fail "the target's image is not sparse"
        expect_rc 1 "writing past the limit" -- tvs exec mi1 -- dd if=/dev/zero of=/root/fill bs=1M count=80
        [ "$(tvs exec mi1 -- stat -c %s /root/fill)" -lt $((64 << 20)) ] || fail "wrote past the 64M limit"
        # the source has no trace
        [ ! -e "$(vps_dir mi1)" ] || fail "the source's directory is left"
        expect_rc 3 "the source has no mi1" -- vs status mi1
        [ ! -e "$R/run/paene/mi1.migrate.sums" ] || fail "the block sums are left on the source"
        expect_eq "" "$(links_of_type veth)" "no veth on the source"
        tvs destroy --force mi1 >/dev/null
}

# The image's copied-up files carry trusted.overlay.origin, file handles of
# the source's template: they go before the first mount on the target,
# which would refuse them (ESTALE), and its id range moves when taken.
test_an_image_vps_drops_its_overlay_origins_and_moves_its_ids() {
        trap stop_target EXIT
        start_target
        tvs create other --template busybox --ipadd 10.77.0.51
        make_image_vps mi2
        local base_src base_tgt
        base_src=$(sed -n 's/^id_base = //p' "$(vps_dir mi2)/config")
        vs stop mi2
        expect_contains "$(image_xattrs "$(vps_dir mi2)/disk.img" /etc/profile)" "trusted.overlay.origin" \
                "the source's copied-up file has an origin (the test proves something)"
        expect_rc 0 "migrate a stopped VPS on an image" -- vs migrate mi2 "$T"
        expect_eq "mi2 stopped" "$(tvs list -H -o name,state mi2 | xargs)" "stopped on the target"
        base_tgt=$(sed -n 's/^id_base = //p' "$(tvps_dir mi2)/config")
        [ "$base_tgt" != "$base_src" ] || fail "the id range was taken on the target and kept"
        e2fsck -fn "$(tvps_dir mi2)/disk.img" >/dev/null 2>&1 || fail "the target's image is not clean"
        tvs start mi2
        expect_eq "# local" "$(tvs exec mi2 -- tail -1 /etc/profile)" "the copied-up file"
        expect_eq "keep 1000:1000" "$(tvs exec mi2 -- sh -c 'cat /root/d/keep; stat -c %u:%g /root/d/keep' | xargs)" "its owner inside"
        tvs destroy --force mi2 >/dev/null
        tvs destroy --force other >/dev/null
}

# A target that dies during an image's migration: the source runs on with
# its files, and the restarted target has nothing of it.
test_a_target_that_dies_during_an_image_migration_leaves_the_source_running() {
        trap stop_target EXIT
        start_target
        make_image_vps mi3
        local fifo=$R/holdi3 pid tpid staging big
        big=$(vs exec mi3 -- md5sum /root/big | cut -d' ' -f1)
        staging=$(tvps_dir .mi3.migrate.creating)
        mkfifo "$fifo"
        PAENE_MIGRATE_HOLD=$fifo "$BIN/vsctl" --root "$R" migrate mi3 "$T" >/dev/null 2>"$R/migi3.err" &
        pid=$!
        hold_open "$pid" "$fifo"
        [ -s "$staging/disk.img" ] || fail "no staging with the first round"
        tpid=$(R=$T vsd_pid)
        kill -9 "$tpid"
        wait_for 10 "is_dead $tpid" || fail "target vsd survives SIGKILL"
        release_hold
        expect_job 6 "$pid" "migrate to a dead target"
        expect_contains "$(cat "$R/migi3.err")" "vsctl: migrate mi3: target: vsd is not running" "says why"
        expect_eq running "$(state_of mi3)" "the source still runs"
        expect_eq "$big keep" "$(vs exec mi3 -- sh -c 'md5sum /root/big | cut -d" " -f1; cat /root/d/keep' | xargs)" "its files"
        [ ! -e "$R/run/paene/mi3.migrate.sums" ] || fail "the block sums are left on the source"
        rm -f "$T/run/paene/vsd.pid"
        R=$T CG=$TCG start_vsd
        [ ! -e "$staging" ] || fail "the restarted target kept the staging"
        expect_rc 3 "no mi3 on the target" -- tvs status mi3
        vs destroy --force mi3
}

# hold_image NAME SECONDS: a process of the test's (HELD_BY) holds a
# file of the running image VPS's file system open for SECONDS, so that
# after its stop the image's mount, and its loop device, stays that long
# (as a loop device whose writes drain slowly under load keeps it).
hold_image() {
        local init line
        init=$(vps_procs "$1" | head -1)
        coproc HOLDER {
                exec python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
print("held", flush=True)
time.sleep(float(sys.argv[2]))' "/proc/$init/root/root/change" "$2"
        }
        HELD_BY=$HOLDER_PID # (bash unsets HOLDER_PID once it is gone)
        read -r -u "${HOLDER[0]}" line
        expect_eq held "$line" "the holder has the image's file open"
}

# The last round of an image VPS reads the image once its run let it go:
# a stopped VPS's loop device held longer than 10 s (the bound of before)
# is waited for, and the migration ends with the VPS running there.
test_the_last_round_waits_for_an_image_held_after_the_stop() {
        trap stop_target EXIT
        start_target
        make_image_vps mi5
        local big
        big=$(vs exec mi5 -- md5sum /root/big | cut -d' ' -f1)
        hold_image mi5 13
        expect_rc 0 "migrate while the stopped VPS's image is held" -- vs migrate --fast mi5 "$T"
        is_dead "$HELD_BY" || fail "the last round did not wait for the holder to let go"
        expect_eq "mi5 running" "$(tvs list -H -o name,state mi5 | xargs)" "runs on the target"
        expect_eq "$big old" "$(tvs exec mi5 -- sh -c 'md5sum /root/big | cut -d" " -f1; cat /root/change' | xargs)" "its files"
        [ ! -e "$(vps_dir mi5)" ] || fail "the source's directory is left"
        tvs destroy --force mi5 >/dev/null
}

# An image held past the last round's wait (made short here, 2 s, by
# VSD_TEST_UNMOUNT_WAIT_MS): the migration fails with one line, vsd's log
# names the loop device, the source starts again once the image is let go
# (not left stopped) and the target keeps nothing.
test_an_image_held_past_the_wait_fails_and_the_source_runs_again() {
        trap stop_target EXIT
        start_target
        stop_vsd
        VSD_TEST_UNMOUNT_WAIT_MS=2000 start_vsd_logging_to "$R/vsd6.log"
        make_image_vps mi6
        local big
        big=$(vs exec mi6 -- md5sum /root/big | cut -d' ' -f1)
        hold_image mi6 8
        expect_rc 4 "migrate while the image is held past the wait" -- vs migrate --fast mi6 "$T"
        expect_eq "vsctl: migrate mi6: its disk image is still mounted, past the wait after its stop (vsd's log names the loop device)" \
                "$ERR" "one line"
        expect_contains "$(cat "$R/vsd6.log")" "migrate mi6: its image is still mounted through /dev/loop" \
                "the log names the loop device"
        is_dead "$HELD_BY" || fail "the source started again while its image was held"
        expect_eq running "$(state_of mi6)" "the source runs again"
        expect_eq "$big old" "$(vs exec mi6 -- sh -c 'md5sum /root/big | cut -d" " -f1; cat /root/change' | xargs)" "its files"
        expect_rc 3 "no mi6 on the target" -- tvs status mi6
        [ ! -e "$(tvps_dir .mi6.migrate.creating)" ] || fail "the target kept the staging"
        [ ! -e "$R/run/paene/mi6.migrate.sums" ] || fail "the block sums are left on the source"
        vs destroy --force mi6
}

test_a_target_that_dies_half_way_leaves_the_source_running() {
        trap stop_target EXIT
        start_target
        make_busy_vps m4
        local fifo=$R/hold4 pid before tpid staging
        before=$(layer_sums "$(vps_dir m4)/upper")
        staging=$(tvps_dir .m4.migrate.creating)
        mkfifo "$fifo"
        PAENE_MIGRATE_HOLD=$fifo "$BIN/vsctl" --root "$R" migrate m4 "$T" >"$R/mig4.out" 2>"$R/mig4.err" &
        pid=$!
        hold_open "$pid" "$fifo"
        [ -s "$staging/upper/root/big" ] || fail "no staging with the first round"
        tpid=$(R=$T vsd_pid)
        kill -9 "$tpid"
        wait_for 10 "is_dead $tpid" || fail "target vsd survives SIGKILL"
        release_hold
        expect_job 6 "$pid" "migrate to a dead target"
        expect_eq 1 "$(wc -l <"$R/mig4.err")" "one line: $(cat "$R/mig4.err")"
        expect_contains "$(cat "$R/mig4.err")" "vsctl: migrate m4: target: vsd is not running" "says why"
        expect_eq running "$(state_of m4)" "the source still runs"
        expect_eq "$before" "$(layer_sums "$(vps_dir m4)/upper")" "the source's files unchanged"
        expect_eq "keep" "$(vs exec m4 -- cat /root/d/keep)" "and it serves"
        [ ! -e "$R/run/paene/m4.migrate.snar" ] || fail "the listing is left on the source"
        [ -d "$staging" ] || fail "the killed target left no staging (the test proves nothing)"
        rm -f "$T/run/paene/vsd.pid"
        R=$T CG=$TCG start_vsd
        [ ! -e "$staging" ] || fail "the restarted target kept the staging"
        expect_rc 3 "no m4 on the target" -- tvs status m4
        vs destroy --force m4
}

test_a_conductor_that_vanishes_leaves_nothing_on_the_target() {
        trap stop_target EXIT
        start_target
        make_busy_vps m6
        local fifo=$R/hold6 pid before staging
        before=$(layer_sums "$(vps_dir m6)/upper")
        staging=$(tvps_dir .m6.migrate.creating)
        mkfifo "$fifo"
        PAENE_MIGRATE_HOLD=$fifo "$BIN/vsctl" --root "$R" migrate m6 "$T" >/dev/null 2>&1 &
        pid=$!
        hold_open "$pid" "$fifo"
        [ -s "$staging/upper/root/big" ] || fail "no staging with the first round"
        kill -9 "$pid"
        expect_job 137 "$pid" "the conductor, killed"
        release_hold
        # the receiver reads the end of its input and goes: its connection
        # to the target's vsd closes, and with it the migration
        wait_for 20 '[ ! -e "$staging" ]' || fail "the target kept the staging of a vanished conductor"
        expect_eq "" "$(ls -A "$T/var/lib/paene/vps")" "nothing on the target"
        expect_eq running "$(state_of m6)" "the source still runs"
        expect_eq "$before" "$(layer_sums "$(vps_dir m6)/upper")" "the source's files unchanged"
        # and it can migrate after all
        expect_rc 0 "migrate again" -- vs migrate m6 "$T"
        expect_eq "keep" "$(tvs exec m6 -- cat /root/d/keep)" "runs on the target"
        tvs destroy --force m6 >/dev/null
}

# A conductor killed (SIGKILL) while a round is on its way, not at a
# hold: the source runs on with its files, its directory holds what the
# README's "The VPS" names and nothing else, no tar of the migration is
# left on either side, and a second migration goes through.
test_a_conductor_killed_mid_copy_leaves_the_source_as_it_was() {
        trap stop_target EXIT
        start_target
        make_busy_vps m9
        vs exec m9 -- sh -c 'head -c 200000000 /dev/urandom > /root/huge'
        local pid before entries staging size full left
        before=$(layer_sums "$(vps_dir m9)/upper")
        entries=$(ls -A "$(vps_dir m9)" | xargs)
        full=$(stat -c %s "$(vps_dir m9)/upper/root/huge")
        staging=$(tvps_dir .m9.migrate.creating)
        "$BIN/vsctl" --root "$R" migrate m9 "$T" >/dev/null 2>&1 &
        pid=$!
        # the huge file is arriving on the target: the first round runs
        wait_for 120 '[ "$(stat -c %s "$staging/upper/root/huge" 2>/dev/null || echo 0)" -gt 0 ] || is_dead $pid' || :
        size=$(stat -c %s "$staging/upper/root/huge" 2>/dev/null || echo 0)
        kill -9 "$pid"
        expect_job 137 "$pid" "the conductor, killed"
        [ "$size" -gt 0 ] && [ "$size" -lt "$full" ] ||
                fail "not killed during the copy ($size of $full bytes there): the test proves nothing"
        wait_for 20 '[ ! -e "$staging" ]' || fail "the target kept the staging of a killed conductor"
        expect_eq running "$(state_of m9)" "the source still runs"
        expect_eq "$before" "$(layer_sums "$(vps_dir m9)/upper")" "the source's files unchanged"
        expect_eq "$entries" "$(ls -A "$(vps_dir m9)" | xargs)" "the source's directory"
        for e in $entries; do
                case " $VPS_DIR_ENTRIES " in
                *" $e "*) ;;
                *) fail "$e in the VPS's directory is none of the README's: $VPS_DIR_ENTRIES" ;;
                esac
        done
        # the source's tar ends on its broken pipe (the target's on its input's end)
        wait_for 20 '[ -z "$(our_tars)" ]' || fail "a tar of the migration is left: $(our_tars)"
        # the killed one's listing is in vsd's run directory, and a vsd that
        # starts again removes it (the VPS runs on, adopted)
        [ -e "$R/run/paene/m9.migrate.snar" ] || fail "no listing of the killed migration (the test proves nothing)"
        stop_vsd
        start_vsd
        [ ! -e "$R/run/paene/m9.migrate.snar" ] || fail "the restarted vsd kept the listing"
        expect_eq running "$(state_of m9)" "the source runs after vsd's restart"
        expect_eq "$entries" "$(ls -A "$(vps_dir m9)" | xargs)" "the source's directory after the restart"
        expect_rc 0 "migrate again" -- vs migrate m9 "$T"
        [ ! -e "$R/run/paene/m9.migrate.snar" ] || fail "the listing is left on the source"
        expect_eq "keep" "$(tvs exec m9 -- cat /root/d/keep)" "runs on the target"
        expect_eq "$(md5sum <"$(tvps_dir m9)/upper/root/huge" | cut -d' ' -f1)" \
                "$(tvs exec m9 -- md5sum /root/huge | cut -d' ' -f1)" "the huge file there"
        tvs destroy --force m9 >/dev/null
}

# synced_before_answer LOG VPSDIR STAGING: in the target vsd's strace
# (-f -y), a syncfs of the installed VPS's directory comes after vsd read
# the finish request and before it wrote its answer on that connection,
# and each round of the copy was synced by its fork (one syncfs of the
# staging per migrate-recv request). Says what it found otherwise.
synced_before_answer() { # log vpsdir staging
        awk -v dir="$2" -v staging="$3" '
                # "PID recvmsg(FD<socket:[N]>, {... migrate-finish ..."
                $2 ~ /^recvmsg\(/ && /migrate-finish/ && !finish {
                        finish = NR; pid = $1; fd = $2; sub(/^recvmsg\(/, "", fd); sub(/<.*/, "", fd)
                }
                $2 ~ /^recvmsg\(/ && /migrate-recv/ { rounds++ }
                $2 ~ /^syncfs\(/ && index($0, "<" staging ">") { synced++ }
                $2 ~ /^syncfs\(/ && index($0, "<" dir ">") && finish && !answer && / = 0$/ { durable = NR; by = $1 }
                finish && !answer && $1 == pid && $2 ~ ("^sendmsg\\(" fd "<") { answer = NR }
                END {
                        if (!finish) { print "no finish request read"; exit 1 }
                        if (!answer) { print "no answer to the finish"; exit 1 }
                        if (!durable) { print "no syncfs of " dir " between the finish (line " finish ") and its answer (line " answer ")"; exit 1 }
                        if (!rounds || synced < rounds) { print synced + 0 " syncfs of the staging for " rounds + 0 " rounds"; exit 1 }
                        # out of the loop that answers everybody: a fork of vsd
                        if (by == pid) { print "the finish'"'"'s syncfs ran in vsd'"'"'s loop (pid " pid ")"; exit 1 }
                }' "$1"
}

# The target makes what it received durable before it answers the finish
# (after which the source destroys its copy): one syncfs of the VPS's file
# system there (by a fork of vsd: its loop serves the others meanwhile),
# and one by each round's fork, seen in the target vsd's system calls.
test_the_target_syncs_what_it_received_before_it_answers() {
        trap stop_target EXIT # (which ends strace with the target)
        start_target
        make_busy_vps m10
        local tpid spid log=$R/target.strace why
        tpid=$(R=$T vsd_pid)
        strace -f -qq -y -s 512 -e trace=syncfs,recvmsg,sendmsg -o "$log" -p "$tpid" &
        spid=$!
        wait_for 10 'grep -q "^TracerPid:[[:space:]]*$spid$" /proc/$tpid/status' || fail "strace did not attach"
        expect_rc 0 "migrate" -- vs migrate m10 "$T"
        expect_eq "keep" "$(tvs exec m10 -- cat /root/d/keep)" "runs on the target"
        # strace -f follows the VPS's own processes too, and its detach at
        # SIGTERM waits for each to stop: an init in vfork (busybox init
        # spawning its inittab) cannot, while strace holds its child stopped,
        # and the two waited for each other for good (CI, 2026-12-07). A
        # stopped VPS has no process left to detach.
        tvs stop --fast m10 >/dev/null
        kill "$spid"
        wait "$spid" || :
        why=$(synced_before_answer "$log" "$(tvps_dir m10)" "$(tvps_dir .m10.migrate.creating)") || fail "$why"
        tvs destroy --force m10 >/dev/null
}

test_a_stopped_vps_migrates_stopped_over_ssh() {
        trap stop_target EXIT
        start_target
        vs create m5 --template busybox
        mkdir -p "$(vps_dir m5)/upper/root"
        echo offline >"$(vps_dir m5)/upper/root/note"
        # ssh as the conductor runs it, without a network: the command ssh
        # would run on HOST, here
        mkdir -p "$R/fakebin"
        printf '#!/bin/sh\n[ "$1" = node2 ] || exit 255\nshift\nPATH=%s:$PATH exec sh -c "$*"\n' "$BIN" >"$R/fakebin/ssh"
        chmod 755 "$R/fakebin/ssh"
        expect_rc 6 "an ssh host that does not answer" -- env PATH="$R/fakebin:$PATH" "$BIN/vsctl" --root "$R" migrate m5 "ssh://node3$T"
        expect_contains "$ERR" "went away" "says so"
        expect_eq stopped "$(state_of m5)" "the source is as it was"
        expect_rc 0 "migrate over ssh" -- env PATH="$R/fakebin:$PATH" "$BIN/vsctl" --root "$R" migrate m5 "ssh://node2$T" --json
        expect_eq "False m5" "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["running"], r["name"])' <<<"$OUT")" "json report"
        expect_eq "stopped" "$(tvs list -H -o state m5 | xargs)" "stopped on the target"
        expect_eq "offline" "$(cat "$(tvps_dir m5)/upper/root/note")" "its file"
        tvs start m5
        expect_eq "offline" "$(tvs exec m5 -- cat /root/note)" "seen inside"
        [ ! -e "$(vps_dir m5)" ] || fail "the source is left"
        tvs destroy --force m5 >/dev/null
}

# A VPS's port forwards are its own: they move with it, are installed on
# the target (a client there reaches the VPS through the host port) and
# leave the source; a host port that another VPS holds on the target is
# refused before anything moves.
test_port_forwards_move_with_the_vps() {
        trap stop_target EXIT
        start_target
        local gw out
        vs create m7 --template busybox --port-forward 8080:7000
        vs start m7
        expect_rc 0 "migrate with a port forward" -- vs migrate m7 "$T"
        expect_contains "$(tvs status m7)" "port forwards: 8080:7000/tcp" "the forward is the VPS's on the target"
        gw=$(in_target ip -4 -o addr show | awk '$2 != "lo" {sub("/.*", "", $4); print $4; exit}')
        [ -n "$gw" ] || fail "no host address in the target's namespace"
        tvs exec m7 -- nc -l -p 7000 -e echo hello-moved >/dev/null 2>&1 &
        out=$(fetch in_target busybox nc "$gw" 8080)
        expect_eq hello-moved "$out" "the target's host port reaches the VPS"
        vs list -a >/dev/null # the source's removal of elements waits for a request (later.c)
        expect_not_contains "$(in_host nft list ruleset 2>/dev/null)" "8080" "no forward left on the source"
        tvs destroy --force m7 >/dev/null
        # a host port another VPS holds on the target
        vs create m8 --template busybox --port-forward 9090:80
        vs start m8
        tvs create holder --template busybox --ipadd 10.77.0.200 --port-forward 9090:22
        expect_rc 4 "a host port taken on the target" -- vs migrate m8 "$T"
        expect_contains "$ERR" "in use by VPS holder" "names the holder"
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        expect_eq running "$(vs list -H -o state m8 | xargs)" "the source still runs"
        expect_contains "$(vs status m8)" "port forwards: 9090:80/tcp" "and keeps its forward"
        expect_eq "" "$(ls -A "$T/var/lib/paene/vps" | lines_matching '^\.')" "nothing staged on the target"
        vs destroy --force m8
        tvs destroy --force holder >/dev/null
}

run_tests
