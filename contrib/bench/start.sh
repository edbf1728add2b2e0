#!/bin/bash
# paene start/stop benchmark: how long `vsctl start` and `vsctl stop --fast`
# take, one VPS after another, on a warm vsd.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own network
# namespace), builds the busybox template, creates N VPS bench0..bench(N-1),
# starts them one after another timing each `vsctl start`, then stops them the
# same way with `vsctl stop --fast`, destroys them and stops vsd. A trap cleans
# up on any failure or interruption, so the host is left as it was
# (DESIGN.md section 7).
#
# Usage: [BUILD=build] contrib/bench/start.sh [N]     (as root; N defaults to 100)
# Figures go to stdout; progress and the clean-up report go to stderr.
set -euo pipefail
export LC_ALL=C

prog=start.sh
N=${1:-100}
case $N in
'' | *[!0-9]* | 0*) echo "usage: $prog N   (N: number of VPS, 1..10000)" >&2; exit 2 ;;
esac
if [ "$N" -gt 10000 ]; then
        echo "usage: $prog N   (N: number of VPS, 1..10000)" >&2
        exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
        echo "$prog: must be run as root: vsd mounts overlays, creates cgroups and namespaces" >&2
        echo "$prog: try: sudo make bench" >&2
        exit 1
fi
if [ -z "${EPOCHREALTIME:-}" ]; then
        echo "$prog: needs bash 5 or later (\$EPOCHREALTIME)" >&2
        exit 1
fi

# ---- locate the binaries ----------------------------------------------------

repo=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) build_dir=$BUILD ;;
*) if [ -d "$BUILD" ]; then build_dir=$(cd "$BUILD" && pwd); else build_dir=$repo/$BUILD; fi ;;
esac
VSD=$build_dir/vsd
VSCTL=$build_dir/vsctl
for b in "$VSD" "$VSCTL"; do
        if [ ! -x "$b" ]; then
                echo "$prog: $b not found; build first: make all (BUILD=$BUILD)" >&2
                exit 1
        fi
done
for t in unshare timeout mktemp awk find sort paste stat; do
        command -v "$t" >/dev/null || { echo "$prog: $t is required" >&2; exit 1; }
done

# ---- state owned by this run ------------------------------------------------

ROOT=                     # private state root, set once made
CG=paene-bench-$$         # vsd's cgroup subtree name
VSD_PID=                  # the vsd this script started

# is_our_vsd PID: PID is alive (not a zombie) and is a vsd on our root
is_our_vsd() {
        local pid=$1 stat cmd
        [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        [ "${stat%% *}" != Z ] || return 1
        cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
        case $cmd in *vsd*"--root $ROOT "*) return 0 ;; esac
        return 1
}

# stop_vsd: SIGTERM our vsd by pid, wait (bounded) until it is gone, then SIGKILL
stop_vsd() {
        local i
        is_our_vsd "$VSD_PID" || return 0
        kill -TERM "$VSD_PID" 2>/dev/null || return 0
        for ((i = 0; i < 100; i++)); do # 10 s
                is_our_vsd "$VSD_PID" || return 0
                sleep 0.1
        done
        echo "$prog: vsd $VSD_PID ignored SIGTERM for 10 s; killing it" >&2
        kill -KILL "$VSD_PID" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
                is_our_vsd "$VSD_PID" || return 0
                sleep 0.1
        done
        return 1
}

# mounts_under DIR: mount points at or below DIR, deepest first
mounts_under() {
        awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# cgroup_dirs: every directory named $CG on any cgroup hierarchy, both where
# vsd puts it (<own cgroup>/$CG) and anywhere in the top levels
cgroup_dirs() {
        local mnt root p
        awk '{ for (i = 7; i <= NF && $i != "-"; i++) ; if ($(i+1) ~ /^cgroup2?$/) print $4, $5 }' \
                /proc/self/mountinfo | while read -r root mnt; do
                cut -d: -f3- /proc/self/cgroup | sort -u | while read -r p; do
                        [ "$root" = / ] || p=${p#"$root"}
                        [ -d "$mnt$p/$CG" ] && echo "$mnt$p/$CG"
                done
                find "$mnt" -maxdepth 4 -type d -name "$CG" 2>/dev/null
        done | sort -u
}

# kill_orphans: last resort when vsd is gone but VPS processes are still in its
# cgroup tree: SIGKILL them by pid, then remove the (now empty) tree
kill_orphans() {
        local d f pid i
        for ((i = 0; i < 20; i++)); do # 2 s
                local left=0
                for d in $(cgroup_dirs); do
                        while IFS= read -r f; do
                                while read -r pid; do
                                        kill -KILL "$pid" 2>/dev/null && left=1
                                done <"$f"
                        done < <(find "$d" -name cgroup.procs 2>/dev/null)
                        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
                done
                [ "$left" = 0 ] && [ -z "$(cgroup_dirs)" ] && return 0
                sleep 0.1
        done
}

phase=setup
cleanup() {
        local rc=$? n names leftovers=0 m
        trap '' INT TERM
        set +e
        if [ "$phase" != "done" ]; then
                echo "$prog: failed during $phase (exit $rc); cleaning up" >&2
                if [ -z "$VSD_PID" ] && [ -n "$ROOT" ] && [ -r "$ROOT/run/paene/vsd.pid" ]; then
                        VSD_PID=$(cat "$ROOT/run/paene/vsd.pid" 2>/dev/null)
                fi
                if is_our_vsd "$VSD_PID"; then
                        names=$(timeout 10 "$VSCTL" list -a -H -o name </dev/null 2>/dev/null)
                        for n in $names; do
                                timeout 30 "$VSCTL" stop --fast "$n" </dev/null >/dev/null 2>&1
                                timeout 30 "$VSCTL" destroy --force "$n" </dev/null >/dev/null 2>&1
                        done
                fi
                stop_vsd
                is_our_vsd "$VSD_PID" || kill_orphans
        fi
        if [ -n "$ROOT" ]; then
                for m in $(mounts_under "$ROOT"); do umount "$m" 2>/dev/null || umount -l "$m"; done
                if [ -z "$(mounts_under "$ROOT")" ]; then
                        rm -rf --one-file-system "$ROOT"
                fi
        fi

        m=$(if [ -n "$ROOT" ]; then mounts_under "$ROOT"; fi)
        [ -z "$m" ] || { echo "$prog: LEFT: mounts under $ROOT: $m" >&2; leftovers=1; }
        m=$(cgroup_dirs)
        [ -z "$m" ] || { echo "$prog: LEFT: cgroup dirs: $m" >&2; leftovers=1; }
        if [ -n "$VSD_PID" ] && is_our_vsd "$VSD_PID"; then
                echo "$prog: LEFT: vsd pid $VSD_PID still running" >&2; leftovers=1
        fi
        if [ -n "$ROOT" ] && [ -e "$ROOT" ]; then
                echo "$prog: LEFT: $ROOT still exists" >&2; leftovers=1
        fi
        if [ "$leftovers" = 0 ]; then
                echo "# cleaned up: no mounts under ${ROOT:-the root}, no cgroup $CG, vsd ${VSD_PID:-} gone, root removed" >&2
        else
                [ "$rc" != 0 ] || rc=1
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# now_us: the time in microseconds, without forking
now_us() { local t=$EPOCHREALTIME; REPLY=${t/[.,]/}; }

# stats LABEL < microseconds, one per line: median p99 min max in ms
stats() {
        sort -n | awk -v label="$1" '
                { v[NR] = $1 }
                END {
                        n = NR
                        med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
                        k = int((99 * n + 99) / 100)   # nearest rank: ceil(0.99 n)
                        printf "%-18s median %8.3f  p99 %8.3f  min %8.3f  max %8.3f  (ms, n=%d)\n",
                                label, med / 1000, v[k] / 1000, v[1] / 1000, v[n] / 1000, n
                }'
}

cgroup_mode() {
        local fs v1 v2
        fs=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null || echo none)
        # v1 hierarchies with controllers (named ones such as name=systemd left out)
        v1=$(awk -F: '$1 != 0 { n = split($2, c, ","); for (i = 1; i <= n; i++) if (c[i] !~ /^name=/) print c[i] }' \
                /proc/self/cgroup | sort | paste -sd, -)
        if [ "$fs" = cgroup2fs ]; then
                v2=$(tr ' ' ',' </sys/fs/cgroup/cgroup.controllers 2>/dev/null)
                echo "cgroup: v2 (unified at /sys/fs/cgroup; controllers: ${v2:-none})"
        elif [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
                v2=$(tr ' ' ',' </sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)
                echo "cgroup: hybrid (v1 controllers: ${v1:-none}; cgroup2 at /sys/fs/cgroup/unified, controllers: ${v2:-none})"
        else
                echo "cgroup: v1 (controllers: ${v1:-none})"
        fi
}

# ---- set-up -------------------------------------------------------------------

phase="making the private root"
ROOT=$(mktemp -d /tmp/paene-bench.XXXXXX)
export VS_ROOT=$ROOT

phase="starting vsd"
unshare -n "$VSD" --root "$ROOT" --cgroup-name "$CG" </dev/null
VSD_PID=$(cat "$ROOT/run/paene/vsd.pid")
is_our_vsd "$VSD_PID" || { echo "$prog: vsd pid file names $VSD_PID, not our vsd" >&2; exit 1; }

phase="building the template"
echo "# vsd pid $VSD_PID on $ROOT; building the busybox template, creating $N VPS" >&2
timeout 300 "$VSCTL" template build busybox </dev/null >/dev/null

phase="creating $N VPS"
for ((i = 0; i < N; i++)); do
        timeout 60 "$VSCTL" create "bench$i" --template busybox </dev/null >/dev/null
done

# ---- measurements -------------------------------------------------------------

echo "paene vsctl start/stop benchmark, N=$N (one after another, warm vsd, busybox template)"
echo "machine: nproc $(nproc), kernel $(uname -r)"
cgroup_mode

# The timed commands run without a `timeout` wrapper (it would add a fork and
# exec to every figure); the loops are bounded by N.
starts=()
phase="starting $N VPS"
now_us; all0=$REPLY
for ((i = 0; i < N; i++)); do
        now_us; t0=$REPLY
        "$VSCTL" start "bench$i" </dev/null >/dev/null
        now_us; t1=$REPLY
        starts+=($((t1 - t0)))
done
now_us; all1=$REPLY

running=$("$VSCTL" list -H -o name </dev/null | wc -l)
if [ "$running" -ne "$N" ]; then
        echo "$prog: $running VPS running after $N starts" >&2
        exit 1
fi

stops=()
phase="stopping $N VPS"
now_us; sall0=$REPLY
for ((i = 0; i < N; i++)); do
        now_us; t0=$REPLY
        "$VSCTL" stop --fast "bench$i" </dev/null >/dev/null
        now_us; t1=$REPLY
        stops+=($((t1 - t0)))
done
now_us; sall1=$REPLY

printf '%s\n' "${starts[@]}" | stats "vsctl start"
awk -v us=$((all1 - all0)) -v n="$N" 'BEGIN { printf "%-18s total    %8.3f s for %d starts\n", "vsctl start", us / 1e6, n }'
printf '%s\n' "${stops[@]}" | stats "vsctl stop --fast"
awk -v us=$((sall1 - sall0)) -v n="$N" 'BEGIN { printf "%-18s total    %8.3f s for %d stops\n", "vsctl stop --fast", us / 1e6, n }'

# ---- tear-down ----------------------------------------------------------------

phase="destroying $N VPS"
for ((i = 0; i < N; i++)); do
        timeout 60 "$VSCTL" destroy "bench$i" </dev/null >/dev/null
done
left=$(timeout 10 "$VSCTL" list -a -H -o name </dev/null | wc -l)
if [ "$left" -ne 0 ]; then
        echo "$prog: $left VPS left after destroying all" >&2
        exit 1
fi

phase="stopping vsd"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }
phase="done"
# the EXIT trap removes $ROOT (after checking nothing is mounted there) and
# checks the host is clean
