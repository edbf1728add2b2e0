# Integration test harness. A test file sources this, defines functions
# named test_*, and calls run_tests. Each file gets its own vsd on a private
# --root, with a private cgroup name, in its own network namespace; every
# mount, cgroup and process it made is removed at exit, also on failure.
# Output: "ok NAME", "not ok NAME" or "skip NAME: reason" per test, read by
# tests/run.sh.

set -u
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$TOP/$BUILD
[ -x "$BIN/vsd" ] || BIN=$BUILD
R=""
CG=""

die() {
        echo "lib: $*" >&2
        exit 1
}

[ "$(id -u)" -eq 0 ] || die "integration tests need root"

# vsctl against this file's vsd
vs() { "$BIN/vsctl" --root "$R" "$@"; }

# vsd runs in a network namespace of the test's own, pinned on a file
# under the test's root: a restarted vsd finds it again, with the bridge and
# the host sides of the VPS's veths, as on a real host, whose loopback is up
# (the host's own addresses are reached through it).
start_vsd() {
        if [ ! -e "$R/netns" ]; then
                touch "$R/netns" && unshare --net="$R/netns" ip link set lo up || return 1
        fi
        nsenter --net="$R/netns" "$BIN/vsd" --root "$R" --cgroup-name "$CG"
}

# The pid of this file's vsd (tests run in subshells: read it, never keep it).
vsd_pid() {
        cat "$R/run/paene/vsd.pid" 2>/dev/null
}

# Gone, or a zombie its reaper has not collected yet.
is_dead() {
        ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

stop_vsd() {
        local pid
        pid=$(vsd_pid)
        [ -n "$pid" ] || return 0
        kill "$pid" 2>/dev/null
        wait_for 10 "is_dead $pid" || kill -9 "$pid" 2>/dev/null
        rm -f "$R/run/paene/vsd.pid"
}

setup() {
        # PAENE_TEST_TMP: where test roots go (a file system that can be
        # idmapped: a VM's tmpfs on an older kernel cannot)
        R=$(mktemp -d "${PAENE_TEST_TMP:-/tmp}/paene-test.XXXXXX")
        CG="paene-test-$$"
        start_vsd || die "vsd did not start"
        vs template build busybox >/dev/null || die "template build failed"
}

# Our cgroup subtree on each hierarchy (the directories vsd creates).
cgroup_dirs() {
        local line ctrl path mnt
        while IFS=: read -r _ ctrl path; do
                case "$ctrl" in name=*) continue ;; esac
                if [ -z "$ctrl" ]; then
                        mnt=/sys/fs/cgroup/unified
                        [ -d "$mnt" ] || mnt=/sys/fs/cgroup
                else
                        mnt=/sys/fs/cgroup/${ctrl%%,*}
                fi
                [ -d "$mnt$path" ] && echo "$mnt${path%/}/$CG"
        done </proc/self/cgroup | sort -u
}

# The pids in a VPS's cgroup (the first hierarchy holds them all).
vps_procs() {
        cat "$(cgroup_dirs | head -1)/default/$1/cgroup.procs"
}

# Kills what a failed test left, by pid only: processes in our cgroups.
kill_leftovers() {
        local d
        for d in $(cgroup_dirs); do
                [ -d "$d" ] || continue
                find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
                        kill -9 "$pid" 2>/dev/null
                done
        done
}

remove_cgroups() {
        local d
        for d in $(cgroup_dirs); do
                [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
}

# Any vsd serving this file's root is one this file started.
kill_our_vsds() {
        local cmdline pid
        for cmdline in /proc/[0-9]*/cmdline; do
                pid=${cmdline#/proc/}
                pid=${pid%/cmdline}
                # a process may end while we look: its cmdline goes with it
                if { tr '\0' ' ' <"$cmdline"; } 2>/dev/null | grep -q "vsd --root $R "; then
                        kill -9 "$pid" 2>/dev/null
                fi
        done
}

teardown() {
        local name
        if [ -n "$(vsd_pid)" ] && ! is_dead "$(vsd_pid)"; then
                for name in $(vs list -a -H -o name 2>/dev/null); do
                        vs destroy --force "$name" >/dev/null 2>&1
                done
        fi
        stop_vsd
        kill_our_vsds
        kill_leftovers
        remove_cgroups
        if [ -n "$R" ] && grep -q " $R" /proc/self/mountinfo; then
                grep " $R" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r umount -l
        fi
        detach_our_loops
        [ -n "$R" ] && rm -rf "$R"
}

# Loop devices left bound to disk images under this file's root (a VPS's
# devices are autoclear and normally go with it).
detach_our_loops() {
        local img dev
        [ -n "$R" ] || return 0
        # by the image's device and inode (losetup -j): the sysfs path of a
        # VPS's loop device is as its own mount namespace saw it
        for img in "$R"/var/lib/paene/vps/*/disk.img "$R"/var/lib/paene/vps/.*/disk.img; do
                [ -e "$img" ] || continue
                for dev in $(losetup -n -O NAME -j "$img" 2>/dev/null); do
                        losetup -d "$dev" 2>/dev/null
                done
        done
        return 0
}

# wait_for SECONDS 'shell condition': polls the condition, bounded in time.
wait_for() {
        local deadline=$((SECONDS + $1))
        while ! eval "$2"; do
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 0.05
        done
}

fail() {
        echo "    FAIL: $*" >&2
        return 1
}

expect_eq() { # expected actual what
        [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

expect_contains() { # haystack needle what
        case "$1" in *"$2"*) return 0 ;; esac
        fail "$3: '$2' not in: $(printf '%s' "$1" | head -c 600)"
}

expect_not_contains() {
        case "$1" in *"$2"*) fail "$3: '$2' unexpectedly in: $(printf '%s' "$1" | head -c 600)" ;; esac
        return 0
}

# expect_rc CODE what -- command...: runs the command, checks its exit code,
# and leaves its stdout in $OUT and stderr in $ERR.
expect_rc() {
        local want=$1 what=$2 rc=0
        shift 3
        OUT=$("$@" 2>/tmp/paene-err.$$) || rc=$?
        ERR=$(cat /tmp/paene-err.$$)
        rm -f /tmp/paene-err.$$
        [ "$rc" -eq "$want" ] || fail "$what: exit code $rc, expected $want (stderr: $ERR)"
}

# A VPS's directories, as vsd lays them out.
vps_dir() { echo "$R/var/lib/paene/vps/$1"; }
tmpl_dir() { echo "$R/var/lib/paene/templates/$1"; }

# Puts the static test payload into a VPS's upper layer as /payload: on the
# host where the layer is a directory, else (a disk image, mounted only in
# the VPS) through exec into the running VPS.
install_payload() {
        if [ -d "$(vps_dir "$1")/upper" ]; then
                install -m 0755 "$BIN/payload" "$(vps_dir "$1")/upper/payload"
        else
                vs exec "$1" -- sh -c 'cat > /payload && chmod 755 /payload' <"$BIN/payload"
        fi
}

# Sets a key in a VPS's config file (admins edit it by hand the same way).
set_config() { # vps key value
        local f
        f="$(vps_dir "$1")/config"
        sed -i "/^$2 *=/d" "$f"
        echo "$2 = $3" >>"$f"
}

state_of() { vs status "$1" 2>/dev/null | awk '{print $3}'; }

# skip REASON: ends the test as skipped ("skip NAME: REASON"), never ok.
SKIP_RC=77
skip() {
        echo "skip ${FUNCNAME[1]#test_}: $*"
        exit $SKIP_RC
}

setup_once() {
        [ -n "$R" ] || setup
}

run_tests() {
        local t rc
        trap teardown EXIT
        setup_once
        # each test runs in a subshell under errexit: the first failed
        # expectation ends it
        for t in $(declare -F | awk '{print $3}' | grep '^test_'); do
                # not in a || list: that would switch errexit off inside
                (
                        set -e -o pipefail
                        "$t"
                )
                rc=$?
                if [ "$rc" -eq 0 ]; then
                        echo "ok ${t#test_}"
                elif [ "$rc" -eq "$SKIP_RC" ]; then
                        : # skip printed its line
                else
                        echo "not ok ${t#test_}"
                fi
        done
}
