#!/bin/bash
# paene-oci, the OCI runtime, on a busybox bundle without vsd: the
# lifecycle (create, start, state, kill, delete), limits felt inside and
# read in the cgroup file, exec, pause, hooks, the user namespace, seccomp,
# capabilities and rlimits, and bad configs refused with nothing left
# (no state, no cgroup, no mount).
. "$(dirname "$0")/lib.sh"

OCI=$BIN/paene-oci
CGP="paene-oci-test-$$" # every container's cgroup is below <own>/$CGP

# This file needs no vsd: its own root with a busybox bundle.
setup() {
        R=$(mktemp -d "${PAENE_TEST_TMP:-/tmp}/paene-oci-test.XXXXXX")
        mkdir -p "$R/rootfs/bin" "$R/rootfs/proc" "$R/rootfs/sys" "$R/rootfs/dev" \
                "$R/rootfs/tmp" "$R/rootfs/etc" "$R/out"
        cp /bin/busybox "$R/rootfs/bin/busybox" || die "no busybox"
        for t in sh echo cat ls sleep id hostname mkdir dd grep ulimit true; do
                ln -s busybox "$R/rootfs/bin/$t"
        done
        echo "root:x:0:0:root:/root:/bin/sh" >"$R/rootfs/etc/passwd"
        "$OCI" spec --bundle "$R" || die "paene-oci spec failed"
        cp "$R/config.json" "$R/config.base.json"
        # a symlink inside the rootfs that points at the host
        mkdir -p "$R/host-target"
        ln -s "$R/host-target" "$R/rootfs/escape"
}

# The cgroup directories of this file on each hierarchy.
our_cgroups() {
        local ctrl path mnt
        while IFS=: read -r _ ctrl path; do
                case "$ctrl" in name=*) continue ;; esac
                if [ -z "$ctrl" ]; then
                        mnt=/sys/fs/cgroup/unified
                        [ -d "$mnt" ] || mnt=/sys/fs/cgroup
                else
                        mnt=/sys/fs/cgroup/${ctrl%%,*}
                fi
                [ -d "$mnt$path" ] && echo "$mnt${path%/}/$CGP"
        done </proc/self/cgroup | sort -u
}

cg_dir() { # v1 controller, container name: its cgroup directory there
        local line path
        line=$(grep -E "^[0-9]+:([^:]*,)?$1(,[^:]*)?:" /proc/self/cgroup) || return 1
        path=${line##*:}
        echo "/sys/fs/cgroup/$1${path%/}/$CGP/$2"
}

teardown() {
        local id d
        for id in $("$OCI" --root "$R/state" list -q 2>/dev/null); do
                "$OCI" --root "$R/state" delete --force "$id" >/dev/null 2>&1
        done
        for d in $(our_cgroups); do
                [ -d "$d" ] || continue
                find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
                        kill -9 "$pid" 2>/dev/null
                done
                find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        [ -n "$R" ] && rm -rf "$R"
}

oci() { "$OCI" --root "$R/state" "$@"; }

# config NAME PYTHON: writes $R/NAME/config.json (the rootfs shared) from
# the base config changed by PYTHON, which edits the dict `c`.
config() {
        mkdir -p "$R/b-$1"
        ln -sfn "$R/rootfs" "$R/b-$1/rootfs"
        python3 - "$R/config.base.json" "$R/b-$1/config.json" "$1" "$CGP" "$R" <<EOF
import json, sys
c = json.load(open(sys.argv[1]))
name, cgp, R = sys.argv[3], sys.argv[4], sys.argv[5]
c["root"]["readonly"] = False
c["process"]["terminal"] = False
c["linux"]["cgroupsPath"] = "/" + cgp + "/" + name
c["mounts"].append({"destination": "/out", "type": "bind", "source": R + "/out",
                    "options": ["rbind", "rw"]})
$2
json.dump(c, open(sys.argv[2], "w"))
EOF
}

# create_ok NAME [OPTIONS]: the container keeps create's stdio, so create
# never runs in a $(...) that would wait for it
create_ok() {
        local name=$1
        shift
        oci create --bundle "$R/b-$name" "$@" "$name" </dev/null >"$R/$name.out" 2>"$R/$name.err" ||
                fail "create $name: $(cat "$R/$name.err")"
}

status_of() { oci state "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
pid_of() { oci state "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }

nothing_left() { # name
        [ ! -e "$R/state/$1" ] || fail "state of $1 left in $R/state"
        local d
        for d in $(our_cgroups); do
                [ ! -e "$d/$1" ] || fail "cgroup $d/$1 left"
        done
}

test_lifecycle() {
        local pid
        config life 'c["process"]["args"] = ["sh", "-c", "trap \"echo got-usr1 > /out/life; exit 3\" USR1; echo started > /out/life; while true; do sleep 0.1; done"]'
        create_ok life --pid-file "$R/life.pid"
        expect_eq created "$(status_of life)" "status after create"
        pid=$(pid_of life)
        expect_eq "$pid" "$(cat "$R/life.pid")" "--pid-file"
        [ ! -e "$R/out/life" ] || fail "the process ran before start"
        expect_rc 0 "start" -- oci start life
        expect_eq running "$(status_of life)" "status after start"
        wait_for 10 '[ "$(cat $R/out/life 2>/dev/null)" = started ]' || fail "process did not run"
        expect_rc 1 "start twice" -- oci start life
        expect_contains "$ERR" "not created" "second start"
        expect_rc 0 "kill USR1" -- oci kill life USR1
        wait_for 10 '[ "$(status_of life)" = stopped ]' || fail "did not stop after its signal"
        expect_eq got-usr1 "$(cat "$R/out/life")" "the process saw the signal"
        expect_rc 1 "kill a stopped container" -- oci kill life KILL
        expect_rc 0 "delete" -- oci delete life
        nothing_left life
        expect_rc 1 "state of a deleted container" -- oci state life
        expect_contains "$ERR" "does not exist" "state after delete"
}

test_delete_refuses_running_then_force() {
        config busy 'c["process"]["args"] = ["sleep", "1000"]'
        create_ok busy
        expect_rc 0 "start" -- oci start busy
        expect_rc 1 "delete running" -- oci delete busy
        expect_contains "$ERR" "running" "delete of a running container"
        expect_eq running "$(status_of busy)" "still running after the refused delete"
        expect_rc 0 "delete --force" -- oci delete --force busy
        nothing_left busy
}

test_memory_limit_felt_and_in_cgroup() {
        local cg
        config mem 'c["process"]["args"] = ["sleep", "1000"]
c["linux"]["resources"] = {"memory": {"limit": 33554432, "swap": 33554432}}'
        create_ok mem
        expect_rc 0 "start" -- oci start mem
        cg=$(cg_dir memory mem)
        expect_eq 33554432 "$(cat "$cg/memory.limit_in_bytes")" "memory.limit_in_bytes"
        expect_contains "$(cat /proc/"$(pid_of mem)"/cgroup)" ":memory:${cg#/sys/fs/cgroup/memory}" \
                "the init is in the cgroup"
        # 16M fits; a 64M buffer does not: the kernel kills dd
        expect_rc 0 "16M inside" -- oci exec mem dd if=/dev/zero of=/dev/null bs=16M count=1
        expect_rc 137 "64M inside is killed" -- oci exec mem dd if=/dev/zero of=/dev/null bs=64M count=1
        expect_rc 0 "delete" -- oci delete --force mem
        nothing_left mem
}

test_pids_limit_felt_and_in_cgroup() {
        config pids 'c["process"]["args"] = ["sleep", "1000"]
c["linux"]["resources"] = {"pids": {"limit": 4}}'
        create_ok pids
        expect_rc 0 "start" -- oci start pids
        expect_eq 4 "$(cat "$(cg_dir pids pids)/pids.max")" "pids.max"
        # init + sh + 2 sleeps fill it: the third fork fails
        # busybox sh ends with 2 when a fork fails
        expect_rc 2 "forks inside" -- oci exec pids sh -c 'for i in 1 2 3 4; do sleep 1 & done 2>/out/pids-err; wait'
        expect_contains "$(cat "$R/out/pids-err")" "fork" "a fork beyond pids.max failed"
        expect_rc 0 "delete" -- oci delete --force pids
        nothing_left pids
}

test_exec_ps_pause_resume() {
        local out
        config ex 'c["process"]["args"] = ["sleep", "1000"]
c["hostname"] = "oci-box"'
        create_ok ex
        expect_rc 0 "start" -- oci start ex
        expect_rc 0 "exec" -- oci exec ex hostname
        expect_eq oci-box "$OUT" "exec sees the container's hostname"
        expect_rc 7 "exec exit status" -- oci exec ex sh -c 'exit 7'
        printf '{"args":["sh","-c","echo $A > /out/ex"],"cwd":"/","env":["A=from-process-json"],"user":{"uid":0,"gid":0}}' >"$R/proc.json"
        expect_rc 0 "exec --process" -- oci exec --process "$R/proc.json" ex
        expect_eq from-process-json "$(cat "$R/out/ex")" "exec --process ran its args and env"
        expect_rc 0 "ps" -- oci ps --format json ex
        expect_contains "$OUT" "$(pid_of ex)" "ps lists the init"
        expect_rc 0 "pause" -- oci pause ex
        expect_eq paused "$(status_of ex)" "status after pause"
        expect_contains "$(cat "$(cg_dir freezer ex)/freezer.state")" FROZEN "freezer.state"
        expect_rc 0 "resume" -- oci resume ex
        expect_eq running "$(status_of ex)" "status after resume"
        expect_rc 0 "update" -- oci update --memory 50000000 ex
        expect_eq 49999872 "$(cat "$(cg_dir memory ex)/memory.limit_in_bytes")" "update --memory (page-rounded)"
        expect_rc 0 "delete" -- oci delete --force ex
        nothing_left ex
}

test_hooks_get_the_state() {
        config hk 'c["process"]["args"] = ["true"]
c["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > " + R + "/prestart.json"]}],
              "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > " + R + "/poststop.json"]}]}'
        create_ok hk
        expect_contains "$(cat "$R/prestart.json")" '"id":"hk"' "prestart got the state"
        expect_contains "$(cat "$R/prestart.json")" "\"pid\":$(pid_of hk)" "prestart got the pid"
        expect_rc 0 "start" -- oci start hk
        wait_for 10 '[ "$(status_of hk)" = stopped ]' || fail "true did not end"
        expect_rc 0 "delete" -- oci delete hk
        expect_contains "$(cat "$R/poststop.json")" '"status":"stopped"' "poststop ran at delete"
        nothing_left hk
}

test_user_namespace_maps_ids() {
        local pid
        config userns 'c["process"]["args"] = ["sh", "-c", "id -u > /out/userns; sleep 1000"]
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup", "/out")]'
        # the container's root (host uid 200000) must reach its rootfs
        chmod 755 "$R"
        create_ok userns
        expect_rc 0 "start" -- oci start userns
        pid=$(pid_of userns)
        expect_eq 200000 "$(awk '/^Uid/{print $2}' /proc/"$pid"/status)" "the init's uid on the host"
        expect_eq "0 200000 65536" "$(tr -s ' ' </proc/"$pid"/uid_map | sed 's/^ //')" "uid_map"
        expect_rc 0 "id inside" -- oci exec userns id -u
        expect_eq 0 "$OUT" "root inside"
        expect_rc 0 "delete" -- oci delete --force userns
        nothing_left userns
}

test_seccomp_caps_rlimits() {
        local pid
        config sec 'c["process"]["args"] = ["sleep", "1000"]
c["process"]["capabilities"] = {k: ["CAP_KILL", "CAP_CHOWN"] for k in ("bounding", "effective", "permitted")}
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}'
        create_ok sec
        expect_rc 0 "start" -- oci start sec
        pid=$(pid_of sec)
        expect_eq "0000000000000021" "$(awk '/^CapEff/{print $2}' /proc/"$pid"/status)" "CapEff (kill, chown)"
        expect_eq "0000000000000021" "$(awk '/^CapBnd/{print $2}' /proc/"$pid"/status)" "CapBnd"
        expect_eq "2" "$(awk '/^Seccomp:/{print $2}' /proc/"$pid"/status)" "seccomp filter mode"
        expect_contains "$(grep 'Max open files' /proc/"$pid"/limits)" "123                  456" "RLIMIT_NOFILE"
        expect_rc 1 "mkdir inside is denied" -- oci exec sec mkdir /tmp/x
        expect_contains "$ERR" "ermission denied" "mkdir got errnoRet 13 (EACCES)"
        expect_rc 0 "ulimit inside" -- oci exec sec sh -c 'ulimit -n'
        expect_eq 123 "$OUT" "ulimit -n inside"
        expect_rc 0 "delete" -- oci delete --force sec
        nothing_left sec
}

# Each bad config: refused with one line naming the problem, no state dir,
# no cgroup, no new mount on the host.
# The refused create runs in a mount namespace of its own, a private copy
# of the host's, with the mount table read before and after in it: a mount
# the runtime leaves shows there, and no other process on the machine can
# add or remove one in between (counting the host's table raced with them).
refused_cleanly() { # name what-the-message-names
        local counts
        expect_rc 1 "$1 refused" -- unshare -m --propagation private sh -c \
                'before=$(wc -l </proc/self/mountinfo); "$@"; rc=$?
                 echo "$before $(wc -l </proc/self/mountinfo)" >"$0"; exit $rc' \
                "$R/mounts-$1" "$OCI" --root "$R/state" create --bundle "$R/b-$1" "$1"
        expect_contains "$ERR" "$2" "$1's message"
        expect_eq 1 "$(printf '%s\n' "$ERR" | wc -l)" "$1: one line"
        counts=$(cat "$R/mounts-$1")
        expect_eq "${counts% *}" "${counts#* }" "$1: mounts before and after"
        nothing_left "$1"
}

test_bad_configs_leave_nothing() {
        config badtype 'c["process"]["args"] = "sh"'
        refused_cleanly badtype "process.args: expected an array"
        config nocwd 'del c["process"]["cwd"]'
        refused_cleanly nocwd "process.cwd: missing"
        config dotdot 'c["mounts"].append({"destination": "/tmp/../../etc", "type": "tmpfs", "source": "tmpfs"})'
        refused_cleanly dotdot "climbs out"
        # the message quotes the destination: its newline must not split it
        config newline 'c["mounts"].append({"destination": "/a\\n/../../etc", "type": "tmpfs", "source": "tmpfs"})'
        refused_cleanly newline "climbs out"
        # fails in the init, after its cgroup exists
        config symlink 'c["mounts"].append({"destination": "/escape/sub", "type": "tmpfs", "source": "tmpfs"})'
        refused_cleanly symlink "points out of the rootfs"
        [ ! -e "$R/host-target/sub" ] || fail "the escaping mount target was created on the host"
        config badcpus 'c["linux"]["resources"] = {"cpu": {"cpus": "999"}}'
        refused_cleanly badcpus "cpuset.cpus"
        config big 'c["annotations"] = {"pad": "x" * (10 << 20)}'
        refused_cleanly big "more than"
        config badhook 'c["hooks"] = {"prestart": [{"path": "/bin/false"}]}'
        refused_cleanly badhook "/bin/false exited with 1"
}

test_log_json() {
        config logj 'c["process"]["cwd"] = 5'
        expect_rc 1 "bad cwd" -- "$OCI" --root "$R/state" --log "$R/log.json" --log-format json create --bundle "$R/b-logj" logj
        python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); assert d["level"]=="error", d; assert "process.cwd" in d["msg"], d' "$R/log.json" ||
                fail "log line is not the JSON error: $(cat "$R/log.json")"
        nothing_left logj
}

# No vsd here: nothing of lib.sh's between tests (no VPS, no vsd to restart;
# this file's teardown removes what it made).
reset_after_test() { :; }

run_tests
