# Integration test harness. A test file sources this, defines functions
# named test_*, and calls run_tests (runner.sh: "plan N", then "ok NAME",
# "not ok NAME" or "skip NAME: reason" per test, read by tests/run.sh). Each
# file gets its own vsd on a private --root, with a private cgroup name, in
# its own network namespace. After every test the VPS it left are destroyed
# and vsd is stopped; then nothing the test made may be left (processes,
# mounts, cgroups, veths, ifbs, loop devices, nft elements: a leftover fails
# the test), and a fresh vsd with no vsd.conf serves the next test. At exit
# the same holds for the whole file. See tests/README.md.

set -u
BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$TOP/$BUILD
[ -x "$BIN/vsd" ] || BIN=$BUILD
R=""
CG=""
BASE_CGROUPS=""
BASE_MOUNTS=""
LOOPS_BEFORE=""

die() {
        echo "lib: $*" >&2
        exit 1
}

[ "$(id -u)" -eq 0 ] || die "integration tests need root"

# PAENE_TIME_SCALE: how many times slower than a plain host this machine
# runs the tests (a whole number, 1 by default; the pure cgroup v2 VM,
# v2vm.sh under software emulation, is 10 to 40 times slower). Every bound
# on time a test waits within (wait_for) and every stop timeout it passes
# (scaled) is multiplied by it, so that a slow machine fails a test for
# what happens, never for how long it takes; at 1 nothing changes.
TIME_SCALE=${PAENE_TIME_SCALE:-1}
case "$TIME_SCALE" in
'' | *[!0-9]* | 0*) die "PAENE_TIME_SCALE '$TIME_SCALE' is not a whole number from 1" ;;
esac
export PAENE_TIME_SCALE=$TIME_SCALE # for the terminal drivers (ptylib.py)

# scaled SECONDS: a bound on time, on this machine.
scaled() { echo $(($1 * TIME_SCALE)); }

. "$TOP/tests/integration/runner.sh"

# vsctl against this file's vsd
vs() { "$BIN/vsctl" --root "$R" "$@"; }

# Runs a command in vsd's network namespace.
in_host() { nsenter --net="$R/netns" "$@"; }

# vsd runs in a network namespace of the test's own, pinned on a file
# under the test's root: a restarted vsd finds it again, with the bridge and
# the host sides of the VPS's veths, as on a real host, whose loopback is up
# (the host's own addresses are reached through it).
# The network namespace this file's vsd runs in, made once.
ensure_netns() {
        [ -e "$R/netns" ] || { touch "$R/netns" && unshare --net="$R/netns" ip link set lo up; }
}

start_vsd() {
        ensure_netns || return 1
        nsenter --net="$R/netns" "$BIN/vsd" --root "$R" --cgroup-name "$CG"
}

# start_vsd_logging_to LOG [SECONDS]: vsd in the foreground in its
# namespace, what it logs appended to LOG (a daemon logs to syslog, which
# this host may not have), so that a test can read why it did something;
# waits (SECONDS, default 10) until it answers. stop_vsd ends it.
# (outside a test too: it says what went wrong and returns 1)
start_vsd_logging_to() {
        ensure_netns || return 1
        nsenter --net="$R/netns" "$BIN/vsd" --root "$R" --cgroup-name "$CG" --foreground \
                2>>"$1" </dev/null >/dev/null &
        disown # its end (a SIGKILL, too) is the test's, not news
        wait_for "${2:-10}" 'vs list >/dev/null 2>&1' || {
                echo "    vsd did not come up: $(cat "$1")" >&2
                return 1
        }
}

# kernel_at_least MAJOR MINOR: the running kernel (or KERNEL_VERSION) is
# that version or later.
kernel_at_least() {
        local v=${KERNEL_VERSION:-$(uname -r)}
        local major=${v%%.*} rest=${v#*.}
        local minor=${rest%%[!0-9]*}
        [ "$major" -gt "$1" ] || { [ "$major" -eq "$1" ] && [ "$minor" -ge "$2" ]; }
}

# start_vsd_blind [start_vsd | start_vsd_logging_to LOG ...]: vsd as a
# kernel before 6.15 makes it after its restart: an adopted init's exit
# status, once its reaper (not vsd) collected it, is gone; then only the
# mark of a reboot(2) its seccomp listener saw tells a reboot from a stop.
# On 6.15 and later the pidfd still tells it (PIDFD_INFO_EXIT), and
# VSD_TEST_NO_EXIT_INFO=1 makes vsd ignore that and the zombie, so that the
# mark is what is tried; before, the kernel is left to say nothing.
start_vsd_blind() {
        if kernel_at_least 6 15; then
                VSD_TEST_NO_EXIT_INFO=1 "$@"
        else
                "$@"
        fi
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
        wait_for 10 "is_dead $pid" || {
                echo "    note: vsd $pid did not end 10 s after SIGTERM: SIGKILL" >&2
                kill -9 "$pid" 2>/dev/null
                # SIGKILL is asynchronous: gone before the leak checks look
                wait_for 10 "is_dead $pid" || :
        }
        rm -f "$R/run/paene/vsd.pid"
}

setup() {
        # PAENE_TEST_TMP: where test roots go (a file system that can be
        # idmapped: a VM's tmpfs on an older kernel cannot)
        R=$(mktemp -d "${PAENE_TEST_TMP:-/tmp}/paene-test.XXXXXX")
        CG="paene-test-$$"
        start_vsd || die "vsd did not start"
        vs template build busybox >/dev/null || die "template build failed"
        # what a test may leave: the cgroups and mounts vsd has with no VPS
        BASE_CGROUPS=$(our_cgroup_tree)
        BASE_MOUNTS=$(mounts_under_root)
}

suite_setup() { [ -n "$R" ] || setup; }
# (files that called it before run_tests: run_tests sets up by itself now)
setup_once() { suite_setup; }

# Our cgroup subtree on each hierarchy (the directories vsd creates).
cgroup_dirs() {
        local line ctrl path mnt
        # without a cgroup name of its own a file has no cgroups here: never
        # our own cgroup, which holds every process of the machine's session
        [ -n "$CG" ] || return 0
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
        local p line
        for p in /proc/[0-9]*; do
                # a process may end while we look: its cmdline goes with it
                proc_cmdline_to line "$p"
                case "$line " in *"vsd --root $R "*) kill -9 "${p#/proc/}" 2>/dev/null ;; esac
        done
}

# Removes whatever is left, also after a failure; with "all", also the pins
# of the test's network namespaces.
# The pid of this file's view server (vsview), which outlives vsd.
vsview_pid() {
        cat "$R/run/paene/vsview.pid" 2>/dev/null
}

# Any vsview serving this file's root is one this file's vsd started.
kill_our_vsviews() {
        local p line
        # (builtins only: it runs between every two tests, and a tr and a
        # grep for each process of the machine took most of a second)
        for p in /proc/[0-9]*; do
                proc_cmdline_to line "$p"
                case "$line " in "vsview --root $R "*) kill -9 "${p#/proc/}" 2>/dev/null ;; esac
        done
}

# The /proc view outlives vsd by design (vsview keeps serving it): between
# tests and at the end it goes with vsd, so that the next test's vsd mounts
# its own and nothing of the view counts as a leak.
stop_view() {
        local pid
        pid=$(vsview_pid)
        kill_our_vsviews
        [ -z "$pid" ] || wait_for 10 "is_dead $pid" || echo "    vsview $pid survives SIGKILL" >&2
        if [ -n "$R" ] && awk -v m="$R/run/paene/view" '$5 == m {f=1} END {exit !f}' /proc/self/mountinfo; then
                umount -l "$R/run/paene/view"
        fi
        rm -f "$R/run/paene/vsview.pid"
}

cleanup_everything() {
        stop_vsd
        kill_our_vsds
        kill_our_vsviews
        kill_leftovers
        kill_netns_procs
        kill_root_procs
        # SIGKILL is asynchronous: wait until they are gone
        wait_for 10 '[ -z "$(netns_procs)$(root_procs)$(procs_in_our_cgroups)" ]' ||
                echo "    cleanup: processes survive SIGKILL" >&2
        remove_cgroups
        if [ -n "$R" ]; then
                lines_not_in "$(mounts_under_root)" "$([ "${1:-}" = all ] || netns_pins)" |
                        sort -r | xargs -r umount -l
        fi
        detach_our_loops
}

teardown() {
        local leaks=0
        SUITE_PIDS="" # at the end of the file they go too
        destroy_all_vps
        stop_vsd
        stop_view
        # the netns pins are ours to unmount; the rest must be gone
        leak_check "$(mounts_under_root)" "$(netns_pins)" || leaks=1
        cleanup_everything all
        remove_cgroups
        leak_check "$(our_cgroup_tree)" "" || leaks=1
        [ -z "$R" ] || leak_check "$(mounts_under_root)" "" || leaks=1
        [ -n "$R" ] && rm -rf "$R"
        [ "$leaks" -eq 0 ] || echo "teardown: something was left (see above)" >&2
        return "$leaks"
}

suite_teardown() { teardown; }

# ---- the state between tests ----

# Destroys every VPS vsd knows (starting vsd if a test stopped it); fails
# when one cannot be destroyed.
destroy_all_vps() {
        local names name rc=0
        [ -n "$R" ] && [ -d "$R/run/paene" ] || return 0
        if [ -z "$(vsd_pid)" ] || is_dead "$(vsd_pid)"; then
                start_vsd >/dev/null 2>&1 || {
                        echo "    LEAK: vsd does not start to destroy what is left" >&2
                        return 1
                }
        fi
        LOOPS_BEFORE=$(loops_of_images)
        names=$(vs list -a -H -o name) || return 1
        for name in $names; do
                vs destroy --force "$name" >/dev/null || {
                        echo "    LEAK: destroy --force $name failed" >&2
                        rc=1
                }
        done
        # their cgroups go with the stops' waiting work, which a list has
        # done (runtime/later.c)
        [ -z "$names" ] || vs list >/dev/null || rc=1
        return "$rc"
}

# lines_not_in FOUND BASELINE: the non-empty lines of FOUND that are not
# lines of BASELINE.
lines_not_in() {
        # (no process substitution: a VM's fresh /dev may lack /dev/fd)
        awk -v base="$2" 'BEGIN { n = split(base, b, "\n"); for (i = 1; i <= n; i++) skip[b[i]] = 1 }
                NF && !($0 in skip) && !seen[$0]++' <<<"$1" | LC_ALL=C sort
}

# leak_check FOUND [BASELINE]: fails, naming each, on lines of FOUND that are
# not lines of BASELINE.
leak_check() {
        local extra
        extra=$(lines_not_in "$1" "${2:-}")
        [ -z "$extra" ] && return 0
        printf '%s\n' "$extra" | sed 's/^/    LEAK: /' >&2
        return 1
}

# label PREFIX TEXT: TEXT's non-empty lines, each after PREFIX.
label() { awk -v p="$1" 'NF {print p $0}' <<<"$2"; }

# Mount points at or below the test's root (in the host's mount namespace).
mounts_under_root() {
        [ -n "$R" ] || return 0
        awk -v r="$R" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo
}

# vps_mem_limit VPS: the memory limit its cgroup holds (v1's
# memory.limit_in_bytes or v2's memory.max), for a VPS of the default slice.
vps_mem_limit() {
        local d
        for d in $(cgroup_dirs); do
                [ -e "$d/default/$1/memory.limit_in_bytes" ] &&
                        { cat "$d/default/$1/memory.limit_in_bytes"; return 0; }
                [ -e "$d/default/$1/memory.max" ] && { cat "$d/default/$1/memory.max"; return 0; }
        done
        return 1
}

# Every cgroup directory at and below ours, on each hierarchy.
our_cgroup_tree() {
        local d
        for d in $(cgroup_dirs); do
                [ -d "$d" ] && find "$d" -type d
        done
        return 0
}

# The pids in any of our cgroups.
procs_in_our_cgroups() {
        local d
        for d in $(cgroup_dirs); do
                [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} +
        done
        return 0
}

# Network namespace pins of the test (vsd's, and those a test makes below
# $R, such as netfilter's "outside").
netns_pins() {
        [ -n "$R" ] || return 0
        awk -v r="$R" 'index($5, r "/") == 1 && $9 == "nsfs" {print $5}' /proc/self/mountinfo
}

# Processes in one of the test's network namespaces: a vsd that did not stop,
# a background job a test did not collect. (Builtins only: no process this
# makes shows up in its own answer.)
netns_procs() {
        local pin p
        for pin in $(netns_pins); do
                for p in /proc/[0-9]*; do
                        is_suite_proc "$p" && continue
                        [[ "$p/ns/net" -ef "$pin" ]] && echo "${p#/proc/} $(proc_cmdline "$p")"
                done
        done
        return 0
}

proc_cmdline() {
        local line
        proc_cmdline_to line "$1"
        echo "$line"
}

# proc_cmdline_to VAR /proc/PID: the command line, its arguments joined by
# spaces, into VAR without a subshell (the loops over every process between
# two tests: a fork each made them slow)
proc_cmdline_to() {
        local -n _into=$1
        local args=()
        { mapfile -d '' -t args <"$2/cmdline"; } 2>/dev/null
        _into="${args[*]}"
}

kill_netns_procs() {
        local pid _
        netns_procs | while read -r pid _; do
                kill -9 "$pid" 2>/dev/null
        done
}

# Processes with the test's root on their command line (vsctl, nsenter,
# a job a test ran in the background and never waited for).
# Processes a file keeps for all its tests (the archive relay): no leak.
SUITE_PIDS=""

is_suite_proc() { [[ " $SUITE_PIDS " == *" ${1#/proc/} "* ]]; }

root_procs() {
        local p line
        [ -n "$R" ] || return 0
        for p in /proc/[0-9]*; do
                is_suite_proc "$p" && continue
                proc_cmdline_to line "$p"
                case "$line" in *"$R"*) echo "${p#/proc/} $line" ;; esac
        done
        return 0
}

kill_root_procs() {
        local pid _
        root_procs | while read -r pid _; do
                [ "$pid" = "$$" ] || kill -9 "$pid" 2>/dev/null
        done
}

# Links of a kind in vsd's namespace (fails when ip does): none may outlive
# the VPS.
links_of_type() { # type
        local out
        out=$(in_host ip -o link show type "$1") || return 1
        awk -F': ' '{print $2}' <<<"$out" | sed 's/@.*//'
}

# The set elements in vsd's namespace (fails when nft does): all are a VPS's.
nft_elements() {
        local out
        out=$(in_host nft list ruleset) || return 1
        grep 'elements = ' <<<"$out" || return 0
}

# Loop devices bound to the disk images of the test's VPS, as "NAME INODE
# MAJ:MIN" of the backing file (the path a device shows may be the one the
# VPS's mount namespace saw).
loops_of_images() {
        local img
        [ -n "$R" ] || return 0
        for img in "$R"/var/lib/paene/vps/*/disk.img "$R"/var/lib/paene/vps/.*/disk.img; do
                [ -e "$img" ] && losetup -n -O NAME,BACK-INO,BACK-MAJ:MIN -j "$img"
        done
        return 0
}

# Loop devices backed by a file of the test's root: those bound to an image
# before destroy_all_vps that still are, and any whose path is below $R.
loops_of_root() {
        local all
        [ -n "$R" ] || return 0
        all=$(losetup -n -l -O NAME,BACK-INO,BACK-MAJ:MIN) || return 1
        [ -z "$LOOPS_BEFORE" ] || awk -v before="$LOOPS_BEFORE" \
                'BEGIN { n = split(before, b, "\n"); for (i = 1; i <= n; i++) was[b[i]] = 1 }
                ($0 in was) {print $1}' <<<"$all"
        losetup -n -l -O NAME,BACK-FILE | awk -v r="$R" 'index($2, r "/") == 1 {print $1}'
        return 0
}

# What is left after destroy_all_vps and stop_vsd beyond the file's baseline;
# fails, naming each leftover.
leaks_after_test() {
        local rc=0 found p
        # a fork of vsd (a worker, the releaser) may end a moment after vsd
        # did: waited for, bounded (this check ran some 0.9 s later when the
        # scans before it forked a tr and a grep for every process)
        wait_for 10 '[ -z "$(netns_procs)$(root_procs)" ]' || :
        found=$(procs_in_our_cgroups) || return 1
        found=$(for p in $found; do echo "$p $(proc_cmdline "/proc/$p")"; done)
        leak_check "$(label "process in our cgroups: " "$found")" || rc=1
        leak_check "$(label "process in the test netns: " "$(netns_procs)")" || rc=1
        leak_check "$(label "process using the test root: " "$(root_procs)")" || rc=1
        leak_check "$(our_cgroup_tree)" "$BASE_CGROUPS" || rc=1
        leak_check "$(mounts_under_root)" "$BASE_MOUNTS
$(netns_pins)" || rc=1
        # the kernel detaches a loop device from a workqueue after its last
        # close (the image's file system unmounted), with its writes to drain
        wait_for 60 '[ -z "$(loops_of_root)" ]' || :
        found=$(loops_of_root) || return 1
        leak_check "$(label "loop device: " "$found")" || rc=1
        # vsd's reaper deletes a stopped VPS's links after the stop's answer
        wait_for 20 '[ -z "$(links_of_type veth)$(links_of_type ifb)" ]' || :
        found=$(links_of_type veth) || return 1
        leak_check "$(label "veth: " "$found")" || rc=1
        found=$(links_of_type ifb) || return 1
        leak_check "$(label "ifb: " "$found")" || rc=1
        found=$(nft_elements) || return 1
        leak_check "$(label "nft: " "$found")" || rc=1
        return "$rc"
}

# Between tests (runner.sh's hook): the VPS the test left are destroyed and
# vsd stops; anything left is a leak, which fails the test and is cleaned up;
# the next test gets a fresh vsd without the test's vsd.conf.
reset_after_test() {
        local rc=0
        destroy_all_vps || rc=1
        stop_vsd
        stop_view
        leaks_after_test || rc=1
        if [ "$rc" -ne 0 ]; then
                rc=1
                cleanup_everything
                remove_test_links
        fi
        rm -f "$R/etc/paene/vsd.conf"
        start_vsd || {
                echo "    FAIL: vsd did not start for the next test" >&2
                rc=1
        }
        return "$rc"
}

remove_test_links() {
        local l
        for l in $(links_of_type veth 2>/dev/null) $(links_of_type ifb 2>/dev/null); do
                in_host ip link del "$l" 2>/dev/null
        done
        in_host nft flush ruleset 2>/dev/null
        return 0
}

# Loop devices left bound to files under this file's root (a VPS's devices
# are autoclear and normally go with it).
detach_our_loops() {
        local dev
        for dev in $(loops_of_images | awk '{print $1}') $(loops_of_root 2>/dev/null); do
                losetup -d "$dev" 2>/dev/null
        done
        return 0
}

# wait_for SECONDS 'shell condition': polls the condition, bounded in time
# (SECONDS on a plain host: scaled by PAENE_TIME_SCALE).
wait_for() {
        local deadline=$((SECONDS + $(scaled "$1")))
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


# lines_matching GREP-ARGS...: grep on stdin that succeeds when nothing
# matched (grep's 1) and fails on an error (grep's 2). For "nothing left"
# checks: `left=$(cmd | lines_matching x)` fails when cmd does (pipefail).
# doomed_entries [NAME]: what destroys (of VPS NAME) left for vsd's remover,
# which removes a destroyed VPS's files after the reply
doomed_entries() {
        ls -A "$R/var/lib/paene/vps" | lines_matching "^\.${1:-[a-z0-9_-]*}\..*destroying\$"
}

# doomed_entries_go: the remover has removed them all (a minute at most)
doomed_entries_go() {
        wait_for 60 '[ -z "$(doomed_entries)" ]'
}

lines_matching() {
        local rc=0
        grep "$@" || rc=$?
        [ "$rc" -le 1 ]
}

# expect_job STATUS PID WHAT: waits for a background job of the test and
# checks its exit status (never a bare `wait`, which forgets it).
expect_job() {
        local want=$1 pid=$2 rc=0
        wait "$pid" || rc=$?
        [ "$rc" -eq "$want" ] || fail "$3: exit status $rc, expected $want"
}

# lacks PATTERN FILE...: no line of the files matches (grep's 1); a file
# that cannot be read fails it (where `! grep -q` would pass).
lacks() {
        local rc=0
        grep -q -- "$@" || rc=$?
        [ "$rc" -eq 1 ]
}
