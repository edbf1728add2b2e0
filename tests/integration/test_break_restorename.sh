#!/bin/bash
# A restore makes a VPS under a name (its own NAME, or the backup's) as a
# clone does, in the main loop; a clone copies in a worker, with the new
# name held until it is published. A restore onto the name a clone is
# making must be refused busy (exit 4), as create and clone are, and the
# clone must end whole: the restore removed the clone's half-made copy
# (.NAME.creating, the name it makes its own in) and published its VPS
# under that name, and the clone copied on into directories that were gone.
. "$(dirname "$0")/lib.sh"

# The pid of vsd's worker named comm (vsd-clone, ...), if one runs.
worker_of_vsd() { pgrep -P "$(vsd_pid)" -x "$1"; }

# small_files VPS COUNT: COUNT small files under /data of its layer
small_files() {
        python3 - "$(vps_dir "$1")/upper/data" "$2" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d)
for i in range(n):
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("file %d\n" % i)
PY
}

test_restore_onto_a_name_a_clone_is_making_is_refused_busy() {
        local clone_pid worker rc=0
        vs create rn0 --template busybox --ipadd none
        vs backup rn0 "$R/rn0.tar.zst"
        vs create rn1 --template busybox --ipadd none
        small_files rn1 20000
        timeout 120 "$BIN/vsctl" --root "$R" clone rn1 rn2 >"$R/clone.out" 2>&1 &
        clone_pid=$!
        wait_for 20 'worker=$(worker_of_vsd vsd-clone)' || fail "no clone worker"
        worker=$(worker_of_vsd vsd-clone)
        # the worker's half-made copy is there: the restore comes while it
        # copies, held where it is
        wait_for 20 '[ -d "$(vps_dir .rn2.creating)" ]' || fail "no .rn2.creating"
        kill -STOP "$worker"
        [ -d "$(vps_dir .rn2.creating)" ] || {
                kill -CONT "$worker"
                wait "$clone_pid" || :
                fail "the clone ended before the restore came: .rn2.creating is gone"
        }
        expect_rc 4 "restore onto the name the clone makes" -- vs restore "$R/rn0.tar.zst" rn2 || {
                kill -CONT "$worker"
                wait "$clone_pid" || :
                return 1
        }
        kill -CONT "$worker"
        expect_contains "$ERR" "rn2" "the message names it"
        expect_contains "$ERR" "is being made" "the message says it is being made"
        expect_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "one line ($ERR)"
        wait "$clone_pid" || rc=$?
        expect_eq 0 "$rc" "clone's exit status ($(cat "$R/clone.out"))"
        expect_eq 20000 "$(find "$(vps_dir rn2)/upper/data" -type f | wc -l)" "files cloned"
        expect_eq rn1 "$(sed -n 's/^cloned_from *= *//p' "$(vps_dir rn2)/config")" "rn2 is the clone"
        vs destroy rn2
        vs destroy rn1
        vs destroy rn0
}

run_tests
