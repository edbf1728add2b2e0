#!/bin/bash
# paene demo: what `make demo` runs after building.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own
# network namespace), builds the busybox template, creates and starts two VPS,
# looks inside one, then takes everything down again and checks that the host
# is left as it was (DESIGN.md section 7). A trap does the same clean-up when
# any step fails or the demo is interrupted.
#
# Usage: [BUILD=build] contrib/demo.sh        (as root)
set -euo pipefail
export LC_ALL=C

prog=demo.sh
if [ "$(id -u)" -ne 0 ]; then
        echo "$prog: must be run as root: vsd mounts overlays, creates cgroups and namespaces" >&2
        echo "$prog: try: sudo make demo" >&2
        exit 1
fi

# ---- locate the binaries ----------------------------------------------------

repo=$(cd "$(dirname "$0")/.." && pwd)
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
for t in unshare timeout mktemp awk find; do
        command -v "$t" >/dev/null || { echo "$prog: $t is required" >&2; exit 1; }
done

# ---- state owned by this run ------------------------------------------------

ROOT=                      # private state root, set once made
CG=paene-demo-$$           # vsd's cgroup subtree name
VSD_PID=                   # the vsd this script started
CALL_TIMEOUT=120           # seconds; bounds every vsctl call

# show ARGS...: print a command the way a user would type it
show() { printf '$ %s\n' "$*"; }

# vsctl ARGS...: print and run vsctl on the private root (VS_ROOT is exported)
vsctl() {
        show vsctl "$@"
        timeout --foreground "$CALL_TIMEOUT" "$VSCTL" "$@" </dev/null
}

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

        echo
        echo "== checking that the host is left as it was"
        m=$(if [ -n "$ROOT" ]; then mounts_under "$ROOT"; fi)
        if [ -n "$m" ]; then
                echo "LEFT: mounts under $ROOT:"; echo "$m" | sed 's/^/  /'; leftovers=1
        else
                echo "mounts under ${ROOT:-the root}: none"
        fi
        m=$(cgroup_dirs)
        if [ -n "$m" ]; then
                echo "LEFT: cgroup dirs named $CG:"; echo "$m" | sed 's/^/  /'; leftovers=1
        else
                echo "cgroup dirs named $CG: none, on any hierarchy"
        fi
        if [ -n "$VSD_PID" ] && is_our_vsd "$VSD_PID"; then
                echo "LEFT: vsd pid $VSD_PID still running"; leftovers=1
        elif [ -n "$VSD_PID" ]; then
                echo "vsd pid $VSD_PID: gone"
        fi
        if [ -n "$ROOT" ] && [ -e "$ROOT" ]; then
                echo "LEFT: $ROOT still exists"; leftovers=1
        elif [ -n "$ROOT" ]; then
                echo "$ROOT: removed"
        fi
        if [ "$leftovers" = 0 ]; then
                echo "host clean: nothing left behind."
        else
                echo "host NOT clean: see LEFT lines above." >&2
                [ "$rc" != 0 ] || rc=1
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the demo ---------------------------------------------------------------

phase="making the private root"
ROOT=$(mktemp -d /tmp/paene-demo.XXXXXX)
export VS_ROOT=$ROOT
echo "# a private state root, cgroup name and network namespace: the host is not touched"
show export VS_ROOT="$ROOT"

phase="starting vsd"
show unshare -n vsd --root "$ROOT" --cgroup-name "$CG"
unshare -n "$VSD" --root "$ROOT" --cgroup-name "$CG" </dev/null
VSD_PID=$(cat "$ROOT/run/paene/vsd.pid")
is_our_vsd "$VSD_PID" || { echo "$prog: vsd pid file names $VSD_PID, not our vsd" >&2; exit 1; }
echo "# vsd is running as pid $VSD_PID"

phase="building the template"
vsctl template build busybox
vsctl template list

phase="creating and starting the VPS"
vsctl create web1 --template busybox --hostname web1.example
vsctl create web2 --template busybox --hostname web2.example
vsctl start web1
vsctl start web2
vsctl list

phase="looking inside web1"
vsctl exec web1 -- hostname
vsctl exec web1 -- ps

phase="stopping and destroying the VPS"
vsctl stop web1
vsctl stop web2
vsctl list -a
vsctl destroy web1
vsctl destroy web2
vsctl list -a

phase="stopping vsd"
show kill "$VSD_PID"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }

phase="removing the private root"
show rm -rf "$ROOT"
phase="done"
# the EXIT trap removes $ROOT (after checking nothing is mounted there) and
# verifies the host is clean
