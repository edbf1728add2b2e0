#!/bin/bash
# `vsctl backup NAME FILE` writes FILE.partial and renames it to FILE. An
# admin puts a customer's backup where the customer fetches it (a
# directory of the customer's own, not a sticky one, where the kernel's
# protected_symlinks does not hold): what the customer planted at
# FILE.partial (a symlink to a file of root's, a FIFO) must never be
# written through or waited on by root's vsctl. The other way, a restore
# from such a directory: vsd (as root) reads the file itself, with tar, in
# its main loop; a FIFO there must be refused, never waited on (every
# client of vsd would wait with it).
. "$(dirname "$0")/lib.sh"

# customer_dir NAME: a directory owned by nobody, reachable by nobody
customer_dir() {
        chmod 711 "$R"
        mkdir -m 755 "$R/$1"
        chown 65534:65534 "$R/$1"
        echo "$R/$1"
}

as_customer() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

test_backup_does_not_write_through_a_planted_partial_symlink() {
        local dir
        dir=$(customer_dir spool)
        echo precious >"$R/victim"
        vs create bf1 --template busybox
        as_customer ln -s "$R/victim" "$dir/bf1.tar.zst.partial"
        vs backup bf1 "$dir/bf1.tar.zst"
        [ "$(head -c 100 "$R/victim" | tr -cd 'a-z\n')" = precious ] ||
                fail "root's file was written through the symlink (now $(stat -c %s "$R/victim") bytes)"
        [ -f "$dir/bf1.tar.zst" ] && [ ! -L "$dir/bf1.tar.zst" ] || fail "no backup file"
        expect_contains "$(tar --zstd -tf "$dir/bf1.tar.zst")" "paene-backup" "the backup"
        [ ! -e "$dir/bf1.tar.zst.partial" ] && [ ! -L "$dir/bf1.tar.zst.partial" ] ||
                fail "a partial file was left"
        vs destroy bf1
}

test_backup_does_not_wait_on_a_planted_partial_fifo() {
        local dir rc=0
        dir=$(customer_dir spool2)
        vs create bf2 --template busybox
        as_customer mkfifo "$dir/bf2.tar.zst.partial"
        timeout "$(scaled 20)" "$BIN/vsctl" --root "$R" backup bf2 "$dir/bf2.tar.zst" || rc=$?
        [ "$rc" -ne 124 ] || fail "vsctl waited on the FIFO"
        expect_eq 0 "$rc" "backup"
        expect_contains "$(tar --zstd -tf "$dir/bf2.tar.zst")" "paene-backup" "the backup"
        vs destroy bf2
}

test_restore_refuses_a_fifo_and_vsd_serves_on() {
        local dir rc=0
        dir=$(customer_dir upload)
        as_customer mkfifo "$dir/rf1.tar.zst"
        timeout "$(scaled 20)" "$BIN/vsctl" --root "$R" restore "$dir/rf1.tar.zst" rf1 \
                >"$R/restore.out" 2>&1 || rc=$?
        timeout "$(scaled 5)" "$BIN/vsctl" --root "$R" list -a >/dev/null || {
                # what the old vsd waits on: a writer lets it go
                timeout 5 sh -c ": >'$dir/rf1.tar.zst'" || :
                fail "vsd hung reading the FIFO (restore: $rc)"
        }
        expect_eq 2 "$rc" "restore of a FIFO"
        expect_contains "$(cat "$R/restore.out")" "not a regular file" "message"
        expect_eq 1 "$(wc -l <"$R/restore.out")" "one line"
        expect_rc 3 "nothing made" -- vs status rf1
}

run_tests
