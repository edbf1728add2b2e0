#!/bin/bash
# The control plane under abuse and load: client caps and time-outs, no
# spinning when vsd runs out of descriptors, exactly one reply per request.
. "$(dirname "$0")/lib.sh"

HOLD="$TOP/tests/integration/holdconn.py"

# vsd's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat).
vsd_ticks() {
        awk '{print $14 + $15}' "/proc/$(vsd_pid)/stat"
}

open_fds() { find "/proc/$(vsd_pid)/fd" -mindepth 1 | wc -l; }

# restart vsd with this vsd.conf text (the caps are read at start)
restart_with_conf() {
        printf '%s\n' "$@" >"$R/etc/paene/vsd.conf"
        stop_vsd
        start_vsd || fail "vsd did not start with: $*"
}

# hold N connections as ARGS... (setpriv options or nothing); sets HOLD_PID
# and HOLD_OUT; waits until they are all connected.
hold() { # n out-file [setpriv args...]
        local n=$1 out=$2
        shift 2
        mkdir -p -m 1777 "$R/hold"
        rm -f "$R/hold/ready" "$R/hold/release"
        if [ $# -gt 0 ]; then
                setpriv "$@" /usr/bin/python3 "$HOLD" "$R/run/paene/vsd.sock" "$n" "$R/hold/ready" \
                        "$R/hold/release" >"$out" 2>&1 &
        else
                /usr/bin/python3 "$HOLD" "$R/run/paene/vsd.sock" "$n" "$R/hold/ready" \
                        "$R/hold/release" >"$out" 2>&1 &
        fi
        HOLD_PID=$!
        wait_for 20 "[ -e '$R/hold/ready' ] || ! kill -0 $HOLD_PID 2>/dev/null" ||
                fail "holder did not connect"
        [ -e "$R/hold/ready" ] || fail "holder failed: $(cat "$out")"
}

release() {
        touch "$R/hold/release"
        wait "$HOLD_PID" || fail "holder exited $?: $(cat "$1")"
}

test_idle_connections_of_a_member_do_not_stop_root() {
        local gid t0 t1 counts out=$R/hold.out rc=0
        gid=$(getent group paene | cut -d: -f3)
        [ -n "$gid" ] || fail "no group paene"
        restart_with_conf "max_clients_per_uid = 8" "client_timeout = 60s"
        chmod 755 "$R" "$R/run" "$R/run/paene"
        # few descriptors to spare: the old vsd ran out with 40 idle clients
        prlimit --pid "$(vsd_pid)" --nofile=$(($(open_fds) + 20)):20000
        hold 40 "$out" --reuid=65534 --regid=65534 --groups="$gid"
        t0=$(vsd_ticks)
        timeout 10 "$BIN/vsctl" --root "$R" list -a >/dev/null || rc=$?
        expect_eq 0 "$rc" "root's list beside 40 idle connections of uid 65534"
        # a window in which an idle vsd does nothing (the old one spun)
        sleep 2
        t1=$(vsd_ticks)
        [ $((t1 - t0)) -lt 30 ] || fail "vsd used $((t1 - t0)) ticks of CPU in about 2 s"
        release "$out"
        counts=$(cat "$out")
        # the backlog is accepted in order: all 40 were taken or refused
        # before root's list was answered
        expect_contains "$counts" "busy=32 " "refused past max_clients_per_uid"
        expect_contains "$counts" "other=0 " "no other replies"
        restart_with_conf ""
}

vsd_sockets() { find "/proc/$(vsd_pid)/fd" -lname 'socket:*' | wc -l; }

test_idle_client_is_timed_out() {
        local out=$R/hold.out counts base
        restart_with_conf "client_timeout = 500ms"
        base=$(vsd_sockets)
        rm -f "$R/hold/answered"
        HOLD_ANSWERED=$R/hold/answered hold 3 "$out"
        # vsd answers an idle connection and closes it after client_timeout;
        # at a high load it may not even have accepted them when the holder
        # is ready, so its answers are waited for, then its descriptors
        wait_for 10 "[ -e '$R/hold/answered' ]" ||
                fail "idle connections not answered after client_timeout"
        wait_for 10 "[ \$(vsd_sockets) -le $base ]" ||
                fail "idle connections still open after client_timeout"
        release "$out"
        counts=$(cat "$out")
        expect_contains "$counts" "timeout=3 " "each idle client told why"
        expect_rc 0 "list after the time-outs" -- vs list -a
        restart_with_conf ""
}

test_out_of_descriptors_no_spin_and_served_after() {
        local out=$R/hold.out t0 t1 list_pid rc=0
        restart_with_conf "client_timeout = 60s"
        prlimit --pid "$(vsd_pid)" --nofile=$(($(open_fds) + 6)):20000
        # root is not capped: it can take every descriptor vsd has
        hold 30 "$out"
        timeout 30 "$BIN/vsctl" --root "$R" list -a >"$R/list.out" 2>&1 &
        list_pid=$!
        t0=$(vsd_ticks)
        sleep 2 # the window measured: vsd out of descriptors, clients waiting
        t1=$(vsd_ticks)
        [ $((t1 - t0)) -lt 30 ] || fail "vsd used $((t1 - t0)) ticks of CPU in about 2 s"
        kill -0 "$list_pid" || fail "list ended while vsd had no descriptor for it"
        release "$out"
        wait "$list_pid" || rc=$?
        expect_eq 0 "$rc" "list once descriptors were free ($(cat "$R/list.out"))"
        expect_rc 0 "a later list" -- vs list -a
        restart_with_conf ""
}

# SIGHUP, and wait until vsd has read it: the signal was pending when the
# first request came, so vsd's loop took it no later than that request,
# before it took the second
sighup() {
        kill -HUP "$(vsd_pid)"
        vs list -a >/dev/null
        vs list -a >/dev/null
}

test_sighup_reads_the_client_keys_again() {
        local gid out=$R/hold.out
        gid=$(getent group paene | cut -d: -f3)
        restart_with_conf ""
        chmod 755 "$R" "$R/run" "$R/run/paene"
        printf 'max_clients_per_uid = 2\n' >"$R/etc/paene/vsd.conf"
        sighup
        hold 5 "$out" --reuid=65534 --regid=65534 --groups="$gid"
        expect_rc 0 "root's list" -- vs list -a
        release "$out"
        expect_contains "$(cat "$out")" "busy=3 " "refused past the new max_clients_per_uid"
        # a bad value keeps the old ones
        printf 'max_clients_per_uid = none\n' >"$R/etc/paene/vsd.conf"
        sighup
        hold 5 "$out" --reuid=65534 --regid=65534 --groups="$gid"
        expect_rc 0 "root's list" -- vs list -a
        release "$out"
        expect_contains "$(cat "$out")" "busy=3 " "the old value stays"
        restart_with_conf ""
}

test_bad_client_conf_is_refused_at_start() {
        printf 'max_clients_per_uid = lots\n' >"$R/etc/paene/vsd.conf"
        stop_vsd
        expect_rc 1 "vsd with a bad max_clients_per_uid" -- nsenter --net="$R/netns" \
                "$BIN/vsd" --root "$R" --cgroup-name "$CG"
        expect_contains "$ERR" "max_clients_per_uid" "message"
        : >"$R/etc/paene/vsd.conf"
        start_vsd || fail "vsd did not start again"
}

# Connections waiting in the backlog of our socket (accepted ones have an inode).
backlog() {
        awk -v p="$R/run/paene/vsd.sock" '$6 == "02" && $7 == "0" && $8 == p' /proc/net/unix |
                wc -l
}

# Runs the vsctl command lines given (each one string) at once, against a
# stopped vsd that takes them in one go when it goes on; each is bounded in
# time (124: it hung). CODES: their exit statuses, sorted.
concurrently() {
        local pid c p rc i=0 n=$# pids=()
        pid=$(vsd_pid)
        kill -STOP "$pid"
        for c in "$@"; do
                # shellcheck disable=SC2086
                timeout 60 "$BIN/vsctl" --root "$R" $c >/dev/null 2>"$R/err.$i" &
                pids+=($!)
                i=$((i + 1))
        done
        if ! wait_for 20 "[ \$(backlog) -ge $n ]"; then
                kill -CONT "$pid"
                fail "the $n clients did not queue"
        fi
        kill -CONT "$pid"
        CODES=""
        for p in "${pids[@]}"; do
                rc=0
                wait "$p" || rc=$?
                CODES="$CODES $rc"
        done
        CODES=$(printf '%s\n' $CODES | sort -n | tr '\n' ' ')
        CODES=${CODES% }
}

running_vps() { # name
        vs create "$1" --template busybox --ipadd none >/dev/null
        vs start "$1"
}

test_concurrent_duplicates_each_get_one_reply() {
        local before after p
        restart_with_conf ""
        running_vps d1
        concurrently "destroy --force d1" "destroy --force d1"
        expect_eq "0 0" "$CODES" "destroy --force twice"
        expect_rc 3 "d1 is gone" -- vs status d1

        # its processes stopped (SIGSTOP): SIGKILL still ends them
        running_vps d2
        for p in $(vps_procs d2); do kill -STOP "$p"; done
        concurrently "destroy --force d2" "destroy --force d2"
        expect_eq "0 0" "$CODES" "destroy --force twice of a frozen VPS"
        expect_rc 3 "d2 is gone" -- vs status d2

        running_vps d3
        concurrently "stop d3" "stop --fast d3"
        expect_eq "0 0" "$CODES" "stop twice"
        expect_eq stopped "$(state_of d3)" "state after two stops"
        concurrently "stop d3" "stop d3"
        expect_eq "4 4" "$CODES" "stop twice of a stopped VPS"
        concurrently "start d3" "start d3"
        expect_eq "0 4" "$CODES" "start twice"
        before=$(vs status d3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
        concurrently "restart d3" "restart d3"
        expect_eq "0 0" "$CODES" "restart twice"
        expect_eq running "$(state_of d3)" "state after two restarts"
        after=$(vs status d3 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
        [ "$before" != "$after" ] || fail "restart kept pid $before"
        concurrently "stop d3" "restart d3"
        expect_eq "0 0" "$CODES" "stop beside restart"
        expect_eq running "$(state_of d3)" "the restart started it again"
        concurrently "restart d3" "destroy --force d3" "stop d3"
        expect_eq "0 0 3" "$CODES" "restart beside destroy --force and stop"
        expect_contains "$(cat "$R"/err.*)" "d3 was destroyed by another request" "restart's answer"
        expect_rc 3 "d3 is gone" -- vs status d3
}

# running, stopping or stopped (status says running for stopping, as vzctl)
phase_of() { vs list -a -H -o name,state | awk -v n="$1" '$1 == n {print $2}'; }

test_vsd_exit_answers_waiting_clients() {
        local stop_pid rc=0
        restart_with_conf ""
        vs create k1 --template busybox --ipadd none >/dev/null
        install_payload k1
        set_config k1 init "/payload stubborn"
        vs start k1
        timeout 60 "$BIN/vsctl" --root "$R" stop --timeout 60s k1 >/dev/null 2>"$R/stop.err" &
        stop_pid=$!
        wait_for 20 '[ "$(phase_of k1)" = stopping ]' ||
                fail "k1 is not stopping"
        stop_vsd
        wait "$stop_pid" || rc=$?
        expect_eq 6 "$rc" "stop's exit status when vsd exits"
        expect_contains "$(cat "$R/stop.err")" "vsd exited before k1 stopped" "stop's answer"
        start_vsd || fail "vsd did not start again"
        vs destroy --force k1
}

# Sends a request of `size` bytes of exec argv as a sealed memfd (as vsctl
# does past 64 KiB) and prints the reply's kind and error.
memfd_request() { # size
        /usr/bin/python3 - "$R/run/paene/vsd.sock" "$1" <<'PY'
import array, fcntl, json, os, socket, sys
path, size = sys.argv[1], int(sys.argv[2])
arg = "x" * 100000
req = {"version": 1, "cmd": "exec", "name": "many0",
       "args": {"argv": [arg] * (size // len(arg) + 1)}}
body = json.dumps(req, separators=(",", ":")).encode()
fd = os.memfd_create("req", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
os.write(fd, body)
fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
head = json.dumps({"version": 1, "memfd": len(body)}).encode()
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
s.sendmsg([head], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
reply = json.loads(s.recv(1 << 16))
print(reply.get("kind", "ok"), reply.get("error", ""))
PY
}

test_replies_of_any_size_and_requests_within_a_limit() {
        local n=600 i fds_before names json_count big
        restart_with_conf ""
        # past the old limit of one packet (about 208 KB): list -a --json
        # of 600 VPS is about 400 KB
        for ((i = 0; i < n; i++)); do
                vs create "many$i" --template busybox --ipadd none >/dev/null
        done
        vs start many7
        vs start many300
        fds_before=$(open_fds)
        names=$(vs list -a -H -o name | sort)
        expect_eq "$n" "$(printf '%s\n' "$names" | wc -l)" "list -a rows"
        expect_eq "$(for ((i = 0; i < n; i++)); do echo "many$i"; done | sort)" "$names" \
                "list -a names"
        expect_eq 2 "$(vs list -H -o name | wc -l)" "list: the running ones"
        json_count=$(vs list -a --json | python3 -c 'import json,sys; v=json.load(sys.stdin); print(len(v), all("disk" in x and "hostname" in x for x in v))')
        expect_eq "$n True" "$json_count" "list -a --json: every VPS, every field"
        expect_contains "$(vs stats many300)" "processes  1" "stats of one among $n"
        expect_contains "$(vs top --once)" "many300" "top --once among $n"
        # the memfds that carried the replies are closed
        expect_eq "$fds_before" "$(open_fds)" "vsd's descriptors after the large replies"

        # a request over 1 MiB: the client's mistake, said in one line
        big=$(head -c 100000 /dev/zero | tr '\0' x)
        expect_rc 2 "exec with 1.2 MB of arguments" -- vs exec many7 -- echo \
                "$big" "$big" "$big" "$big" "$big" "$big" "$big" "$big" "$big" "$big" "$big" "$big"
        expect_contains "$ERR" "over the limit of 1048576 bytes" "message"
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "one line"
        # and vsd holds every client to it, also one that sends a memfd
        expect_contains "$(memfd_request 2000000)" "usage request of" "2 MB request by memfd"
        expect_contains "$(memfd_request 300000)" "state " "300 kB request by memfd is read"
        for ((i = 0; i < n; i++)); do
                vs destroy --force "many$i" >/dev/null
        done
}

# The pid of vsd's worker named comm (vsd-clone, ...), if one runs.
worker_of_vsd() { # comm
        pgrep -P "$(vsd_pid)" -x "$1"
}

# count small files in the VPS's upper layer, under /data
small_files() { # vps count
        python3 - "$(vps_dir "$1")/upper/data" "$2" "$1" <<'PY'
import os, sys
d, n, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(d)
for i in range(n):
    with open(os.path.join(d, "f%d" % i), "w") as f:
        f.write("file %d of %s\n" % (i, name))
PY
}

test_clone_runs_in_a_worker_with_its_source_held() {
        local clone_pid worker rc=0
        restart_with_conf ""
        vs create src --template busybox --ipadd none >/dev/null
        small_files src 20000
        timeout 120 "$BIN/vsctl" --root "$R" clone src dst >"$R/clone.out" 2>&1 &
        clone_pid=$!
        wait_for 20 'worker=$(worker_of_vsd vsd-clone)' || fail "no clone worker"
        worker=$(worker_of_vsd vsd-clone)
        # hold the worker where it is: what follows happens while it copies
        kill -STOP "$worker"
        expect_eq 10 "$(awk '{print $19}' "/proc/$worker/stat")" "the worker's nice value"
        expect_rc 0 "list while the clone runs" -- vs list -a -H -o name
        expect_eq "src" "$OUT" "list: the source only"
        expect_rc 0 "status of the source" -- vs status src
        expect_rc 4 "destroy of the source" -- vs destroy src
        expect_contains "$ERR" "busy: src is being read by a clone into dst" "destroy's message"
        expect_rc 4 "start of the source" -- vs start src
        expect_rc 4 "create of the new name" -- vs create dst --template busybox
        expect_contains "$ERR" "busy: VPS dst is being made by a clone" "create's message"
        expect_rc 4 "a second clone of the source" -- vs clone src dst2
        expect_rc 0 "another VPS is served" -- vs create other --template busybox --ipadd none
        kill -CONT "$worker"
        wait "$clone_pid" || rc=$?
        expect_eq 0 "$rc" "clone's exit status ($(cat "$R/clone.out"))"
        diff -r "$(vps_dir src)/upper/data" "$(vps_dir dst)/upper/data" ||
                fail "the clone's files differ from the source's"
        expect_eq 20000 "$(find "$(vps_dir dst)/upper/data" -type f | wc -l)" "files cloned"
        expect_rc 0 "the clone starts" -- vs start dst
        vs destroy --force dst
        expect_rc 0 "destroy of the source once the clone is done" -- vs destroy src
        vs destroy other
}

test_a_crashed_clone_worker_gets_an_error_reply() {
        local clone_pid worker rc=0
        restart_with_conf ""
        vs create src2 --template busybox --ipadd none >/dev/null
        small_files src2 20000
        timeout 120 "$BIN/vsctl" --root "$R" clone src2 dst2 >"$R/clone.out" 2>&1 &
        clone_pid=$!
        wait_for 20 'worker=$(worker_of_vsd vsd-clone)' || fail "no clone worker"
        worker=$(worker_of_vsd vsd-clone)
        kill -KILL "$worker"
        wait "$clone_pid" || rc=$?
        expect_eq 1 "$rc" "clone's exit status when its worker died"
        expect_contains "$(cat "$R/clone.out")" "its worker was killed by SIGKILL" "message"
        expect_rc 3 "no half-made VPS" -- vs status dst2
        [ ! -e "$R/var/lib/paene/vps/.dst2.creating" ] || fail "the clone's directory is left"
        expect_rc 0 "the source is free again" -- vs destroy src2
}

test_template_import_runs_in_a_worker_with_its_name_held() {
        local import_pid worker rc=0
        restart_with_conf ""
        # the busybox root and 20000 small files: long enough to be caught
        cp -a "$(tmpl_dir busybox)/rootfs" "$R/imp-root"
        mkdir "$R/imp-root/data"
        python3 -c 'import sys
for i in range(20000):
    open("%s/f%d" % (sys.argv[1], i), "w").write("f%d\n" % i)' "$R/imp-root/data"
        tar --numeric-owner -C "$R/imp-root" -cf "$R/imp.tar" .
        rm -rf "$R/imp-root"
        timeout 120 "$BIN/vsctl" --root "$R" template import imp "$R/imp.tar" >"$R/imp.out" 2>&1 &
        import_pid=$!
        wait_for 20 'worker=$(worker_of_vsd vsd-template-im)' || fail "no import worker"
        worker=$(worker_of_vsd vsd-template-im)
        kill -STOP "$worker"
        expect_rc 0 "template list while the import runs" -- vs template list
        expect_rc 4 "a second import of the name" -- vs template import imp "$R/imp.tar"
        expect_contains "$ERR" "busy: template import imp is running" "message"
        expect_rc 4 "remove of the name" -- vs template remove imp
        expect_rc 4 "unify beside it" -- vs template unify
        expect_rc 0 "a VPS is created meanwhile" -- vs create imp1 --template busybox --ipadd none
        kill -CONT "$worker"
        wait "$import_pid" || rc=$?
        expect_eq 0 "$rc" "import's exit status ($(cat "$R/imp.out"))"
        expect_eq 20000 "$(find "$(tmpl_dir imp)/rootfs/data" -type f | wc -l)" "files imported"
        expect_rc 0 "a VPS on the imported template" -- vs create imp2 --template imp --ipadd none
        vs destroy imp1
        vs destroy imp2
        vs template remove imp
}

# The bytes a VPS's upper layer takes, each inode once, as du counts them
# (st_blocks of every entry below it).
layer_bytes() { # vps
        python3 - "$(vps_dir "$1")/upper" <<'PY'
import os, sys
seen, total = set(), 0
for top, dirs, files in os.walk(sys.argv[1]):
    for n in dirs + files:
        st = os.lstat(os.path.join(top, n))
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
print(total)
PY
}

json_disk() { # vps: its "disk" in status --json, or "none"
        vs status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("disk", "none"))'
}

# A layer of more entries than vsd counts in its loop (20000) is counted by
# vsd-du, beside the loop: its status answers at once, without a figure
# until the first count ends, and with the exact one then.
test_status_of_a_vps_of_many_files_does_not_wait_for_its_count() {
        local counter expected
        restart_with_conf ""
        vs create few --template busybox --ipadd none >/dev/null
        vs create many --template busybox --ipadd none >/dev/null
        small_files many 30000
        expected=$(layer_bytes many)
        counter=$(worker_of_vsd vsd-du)
        [ -n "$counter" ] || fail "no counter of layers beside vsd"
        expect_eq 10 "$(awk '{print $19}' "/proc/$counter/stat")" "the counter's nice value"
        # held where it is: vsd answers everybody meanwhile
        kill -STOP "$counter"
        expect_eq none "$(json_disk many)" "the first status: no figure while it is counted"
        expect_eq none "$(json_disk many)" "the next status, while the count is held"
        expect_rc 0 "list -o disk while the count is held" -- vs list -a -H -o name,disk
        expect_contains "$OUT" "few" "list: the other VPS"
        expect_eq "$(layer_bytes few)" "$(json_disk few)" "a small layer's figure, counted at once"
        kill -CONT "$counter"
        wait_for 30 '[ "$(json_disk many)" = "$expected" ]' ||
                fail "the count of many: $(json_disk many), du says $expected"
        # a small layer's figure is new at every status
        head -c 1048576 /dev/urandom >"$(vps_dir few)/upper/blob"
        expect_eq "$(layer_bytes few)" "$(json_disk few)" "a small layer after a write"
        vs destroy many
        vs destroy few
}

# Without its counter (killed), vsd counts a large layer itself, in full.
test_a_killed_counter_leaves_vsd_counting_itself() {
        local counter expected
        stop_vsd
        start_vsd_logging_to "$R/vsd.log" || fail "vsd did not start"
        vs create many --template busybox --ipadd none >/dev/null
        small_files many 30000
        expected=$(layer_bytes many)
        json_disk many >/dev/null
        counter=$(worker_of_vsd vsd-du)
        [ -n "$counter" ] || fail "no counter of layers beside vsd"
        kill -KILL "$counter"
        wait_for 10 '[ ! -e /proc/$counter ]' || fail "the killed counter was not reaped"
        wait_for 10 '[ "$(json_disk many)" = "$expected" ]' ||
                fail "the count without a counter: $(json_disk many), du says $expected"
        expect_contains "$(cat "$R/vsd.log" 2>/dev/null)" "vsd counts them itself" "vsd says so"
        vs destroy many
}

# roots of the file systems a process holds open (one line per overlay)
overlays_held_by() { # pid
        local f
        for f in /proc/"$1"/fd/*; do
                stat -f -L -c %T "$f" 2>/dev/null
        done | grep -c '^overlayfs$' || true
}

# A stop replies once the init is gone, without the sync of its overlay
# (the kernel's, at the last reference to its root, with the host's dirty
# pages): vsd-release holds that root and lets it go after the reply (held
# with SIGSTOP here, the root waits in its socket). A start waits for it
# (overlay refuses an upper directory still in use), and refuses when it
# does not come, changing nothing.
test_a_stop_leaves_its_root_to_the_releaser() {
        local releaser
        vs create rl1 --template busybox --ipadd none >/dev/null
        vs start rl1 >/dev/null
        vs exec rl1 -- sh -c 'echo kept >/kept'
        releaser=$(worker_of_vsd vsd-release)
        [ -n "$releaser" ] || fail "no releaser beside vsd"
        expect_eq 0 "$(overlays_held_by "$releaser")" "roots held while rl1 runs"
        kill -STOP "$releaser"
        expect_rc 0 "stop --fast while the releaser is held" -- vs stop --fast rl1
        expect_eq stopped "$(state_of rl1)" "state after the stop"
        expect_rc 4 "a start while the last run's root is held" -- vs start rl1
        expect_contains "$ERR" "still being synced" "the refusal says why"
        expect_eq stopped "$(state_of rl1)" "state after the refused start"
        kill -CONT "$releaser"
        wait_for 10 '[ "$(overlays_held_by "$releaser")" = 0 ]' || fail "the releaser kept the root"
        vs start rl1 >/dev/null
        expect_eq kept "$(vs exec rl1 -- cat /kept)" "the file of the last run"
        vs stop --fast rl1 >/dev/null
        vs destroy rl1
}

# A start right after a stop (the releaser may still hold the last run's
# root) gets its root, every time, with every earlier run's files.
test_starts_right_after_stops_find_their_files() {
        local i
        vs create rl2 --template busybox --ipadd none >/dev/null
        for ((i = 1; i <= 10; i++)); do
                expect_rc 0 "start $i" -- vs start rl2
                vs exec rl2 -- sh -c "echo $i >>/runs"
                expect_rc 0 "stop $i" -- vs stop --fast rl2
        done
        vs start rl2 >/dev/null
        expect_eq "$(seq 1 10 | tr '\n' ' ')" "$(vs exec rl2 -- cat /runs | tr '\n' ' ')" "the runs' lines"
        vs stop --fast rl2 >/dev/null
        vs destroy rl2
}

run_tests
