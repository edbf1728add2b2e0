#!/bin/bash
# Crash consistency: vsd is killed with SIGKILL at a random system call
# inside a request (create, start, stop, destroy, clone, set, resize),
# CRASH_KILLS times (50). After each restart every VPS is listed, starts and
# destroys, and nothing is left: no mount, cgroup, veth, loop device, nft
# element, process or directory.
#
# The kill point: each request is traced once (strace, vsd's own process)
# to list the system calls it makes; a kill picks one of them at random,
# the k-th, and strace --inject sends SIGKILL at that call's invocation (its
# name and how many of that name came before). The draws come from a fixed
# seed, printed first: CRASH_SEED=N replays a run.
. "$(dirname "$0")/lib.sh"

KILLS=${CRASH_KILLS:-50}
SEED=${CRASH_SEED:-20261202}
OPS=(create start stop destroy clone set resize)
TRACES=""
PORT=20000
INSIDE=0

# vsd in the foreground, its log in $R/vsd.log (a daemon logs to syslog,
# which this host may not have): what it said before a kill explains a
# failure. Ready when it answers.
start_vsd() { start_vsd_logging_to "$R/vsd.log" 20; }

# lib.sh's state_of reads every line of status: a forward is a line too
vps_state() { vs status "$1" | awk 'NR == 1 {print $3}'; }

in_ns() { nsenter --net="$R/netns" "$@"; }

# What a VPS of this test has: a disk image (a loop device while it runs),
# a port forward (an nft element) and a veth.
new_vps() { # name
        PORT=$((PORT + 1))
        vs create "$1" --template busybox --diskspace 24M --port-forward "$PORT:80" >/dev/null
}

# Brings VPS $1 to the state request $2 starts from.
prepare() { # name op
        case $2 in
        create) ;;
        start | clone | resize) new_vps "$1" ;;
        *) new_vps "$1" && vs start "$1" >/dev/null ;;
        esac
}

request() { # name op
        case $2 in
        create) new_vps "$1" ;;
        start) vs start "$1" ;;
        stop) vs stop --timeout 3 "$1" ;;
        destroy) vs destroy --force "$1" ;;
        clone) vs clone "$1" "$1-b" ;;
        set) PORT=$((PORT + 1)) && vs set "$1" --ram 96M --cpulimit 50% --port-forward "$PORT:81" ;;
        resize) vs resize "$1" --diskspace 32M ;;
        esac
}

# Attaches strace to vsd (its main process only) with extra options; waits
# until strace says it traces (vsd may be killed right after, by its own
# timer's calls: TracerPid would not tell). Leaves its pid in STRACE_PID.
attach() { # strace options...
        local vsd
        vsd=$(vsd_pid)
        : >"$TRACES/attach.log"
        strace -p "$vsd" "$@" 2>"$TRACES/attach.log" &
        STRACE_PID=$!
        wait_for 10 "grep -q 'Process $vsd attached' '$TRACES/attach.log'" ||
                fail "strace did not attach to vsd $vsd: $(cat "$TRACES/attach.log")"
}

# The system calls vsd makes for each request, one name a line, in
# $TRACES/OP. strace stops tracing when it gets SIGINT.
calibrate() {
        local op name rc
        TRACES=$R/crash-traces && mkdir -p "$TRACES"
        for op in "${OPS[@]}"; do
                name=cal-$op
                prepare "$name" "$op" || return 1
                attach -o "$TRACES/$op.raw" -e trace=all || return 1
                request "$name" "$op" >/dev/null || fail "calibration: $op failed" || return 1
                kill -INT "$STRACE_PID"
                rc=0
                wait "$STRACE_PID" || rc=$?
                # it detaches on SIGINT and ends as killed by it
                [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ] || fail "strace for $op exited $rc" || return 1
                sed -n 's/^\([a-z0-9_]*\)(.*/\1/p' "$TRACES/$op.raw" >"$TRACES/$op"
                [ -s "$TRACES/$op" ] || fail "no system calls traced for $op" || return 1
                destroy_all || return 1
        done
        for op in "${OPS[@]}"; do
                echo "# $op: $(wc -l <"$TRACES/$op") system calls in vsd"
        done
}

destroy_all() {
        local name
        for name in $(vs list -a -H -o name); do
                vs destroy --force "$name" >/dev/null || fail "destroy $name" || return 1
        done
}

# nft's ruleset without its counters: what an empty node has.
ruleset() { in_ns nft list ruleset | sed 's/packets [0-9]* bytes [0-9]*//'; }

# Nothing of any VPS is left on the host (vsd runs, no VPS exists). Each
# check counts: the caller's || list switches errexit off in here.
nothing_left() {
        local d bad=0
        expect_eq "" "$(vs list -a -H -o name)" "VPS listed after all were destroyed" || bad=1
        doomed_entries_go || bad=1
        expect_eq "" "$(ls -A "$R/var/lib/paene/vps")" "VPS directories left" || bad=1
        expect_eq "" "$(grep " $R/" /proc/self/mountinfo | grep -v -e " $R/netns " -e " $R/run/paene/view " | awk '{print $5}')" \
                "mounts left" || bad=1
        for d in $(cgroup_dirs); do
                expect_eq "" "$(find "$d/default" -mindepth 1 -type d 2>/dev/null)" \
                        "cgroups left below $d/default" || bad=1
        done
        expect_eq "" "$(in_ns ip -o link show | awk -F': ' '{print $2}' | grep '^vs[i]*-')" \
                "veths or ifbs left" || bad=1
        expect_eq "$RULESET_EMPTY" "$(ruleset)" "nft ruleset differs from an empty node's" || bad=1
        expect_eq "" "$(losetup -l -n -O NAME,BACK-FILE | grep -F "$R/")" "loop devices left" || bad=1
        return "$bad"
}

# The k-th system call of the request's trace: "NAME INVOCATION".
kill_point() { # op k
        awk -v k="$2" 'NR <= k { n[$1]++ } NR == k { print $1, n[$1] }' "$TRACES/$1"
}

crash_once() { # i
        local i=$1 op name k point syscall nth vsd rc inside names n state
        op=${OPS[$((RANDOM % ${#OPS[@]}))]}
        name=k$i
        k=$((RANDOM % $(wc -l <"$TRACES/$op") + 1))
        point=$(kill_point "$op" "$k")
        syscall=${point% *}
        nth=${point#* }
        prepare "$name" "$op" || fail "prepare $op" || return 1
        vsd=$(vsd_pid)
        attach -o /dev/null -e trace="$syscall" -e inject="$syscall:signal=KILL:when=$nth" ||
                return 1
        rc=0
        timeout 60 bash -c "$(declare -f vs request new_vps); BIN='$BIN' R='$R' PORT=$PORT;
                request '$name' '$op'" >/dev/null 2>&1 || rc=$?
        [ "$rc" -ne 124 ] || fail "$op: vsctl hung after the kill" || return 1
        case $rc in
        0)
                # this run made fewer calls of that name than the traced one
                inside="no, after it"
                kill -9 "$vsd"
                ;;
        6) inside="no, before it (by vsd's own calls while idle)" ;;
        *) inside=yes && INSIDE=$((INSIDE + 1)) ;;
        esac
        wait_for 10 "is_dead $vsd" || fail "$op failed ($rc) but vsd $vsd was not killed" ||
                return 1
        wait "$STRACE_PID" || fail "strace exited $? after kill $i" || return 1
        echo "# kill $i: $op, call $k ($syscall #$nth), inside the request: $inside, vsctl exit $rc"
        start_vsd || fail "vsd did not start after kill $i" || return 1
        names=$(vs list -a -H -o name)
        case $op in
        create) ;;
        destroy) ;;
        *) expect_contains "$names" "$name" "$name listed after a kill in $op" || return 1 ;;
        esac
        for n in $names; do
                state=$(vps_state "$n")
                if [ "$state" != running ]; then
                        vs start "$n" >/dev/null || fail "$n ($state) does not start after a kill in $op" ||
                                return 1
                fi
                expect_eq running "$(vps_state "$n")" "$n after start" || return 1
                vs exec "$n" -- true || fail "exec in $n after a kill in $op" || return 1
                vs destroy --force "$n" >/dev/null || fail "$n does not destroy after a kill in $op" ||
                        return 1
        done
        nothing_left || { echo "    (kill $i: $op at $syscall #$nth)" >&2 && return 1; }
}

# What vsd logged last, for a failed run.
show_log() {
        echo "    vsd's log, last lines:" >&2
        tail -n 15 "$R/vsd.log" | sed 's/^/    /' >&2
}

test_sigkill_inside_requests_leaves_nothing() {
        local i
        echo "# seed $SEED (CRASH_SEED=$SEED replays this run), $KILLS kills"
        RANDOM=$SEED
        RULESET_EMPTY=$(ruleset)
        calibrate || return 1
        # the checks see what they look for: a VPS's loop device, veth and
        # nft element while it runs
        new_vps probe && vs start probe >/dev/null
        expect_contains "$(losetup -l -n -O NAME,BACK-FILE | grep -F "$R/")" "disk.img" \
                "the loop device check finds a running VPS's"
        expect_contains "$(in_ns ip -o link show)" "vs-probe" "the veth check finds one"
        [ "$(ruleset)" != "$RULESET_EMPTY" ] || fail "the nft check finds no element of a VPS"
        vs destroy --force probe >/dev/null
        nothing_left
        for i in $(seq 1 "$KILLS"); do
                crash_once "$i" || { show_log && return 1; }
        done
        echo "# $INSIDE of $KILLS kills inside a request"
        # kills that all miss would test nothing
        [ "$INSIDE" -ge $((KILLS / 2)) ] || fail "only $INSIDE of $KILLS kills inside a request"
        rm -rf "$TRACES" # $R goes at the end, also when this failed
}

run_tests
