# shellcheck shell=bash
# paene contrib: what contrib/demo.sh and contrib/bench/start.sh share.
#
# Both start a private vsd (own state root under /tmp, own cgroup name, own
# network namespace) and take it down again, with a trap that cleans up on any
# failure or interruption and then checks that the host is left as it was
# (DESIGN.md section 7). Sourced, not run; it only defines things, so a script
# sources it at the top, before its own checks.
#
# The script sets before sourcing:
#   prog     its name, for messages
#   tag      names what this run owns: cgroup paene-<tag>-<pid>, root
#            /tmp/paene-<tag>.XXXXXX
# and may define, after sourcing and before calling install_traps:
#   report_host   prints what check_host found (left_* below) in its own
#                 way; returns non-zero when the host is not clean (the
#                 default here reports on stderr)
#   restore_host  puts back a host setting the script changed for its run
#                 (called by the trap after everything of the run is gone)
# The script keeps `phase` up to date: the trap names it on failure, and
# skips stopping VPS and vsd once it is "done".

: "${prog:?set prog before sourcing lib.sh}" "${tag:?set tag before sourcing lib.sh}"

# ---- state owned by this run ------------------------------------------------

ROOT=                      # private state root, set by make_root
CG=paene-$tag-$$           # vsd's cgroup subtree name
VSD_PID=                   # the vsd this script started, set by start_vsd
phase=setup                # what the script is doing, for the trap

# ---- checks before starting -------------------------------------------------

# require_root HINT: exit unless run as root; HINT is how to run it so
require_root() {
        if [ "$(id -u)" -ne 0 ]; then
                echo "$prog: must be run as root: vsd mounts overlays, creates cgroups and namespaces" >&2
                echo "$prog: try: $1" >&2
                exit 1
        fi
}

# find_binaries: set VSD and VSCTL from $BUILD (default build), a directory
# taken from the current one if it is there, else from the top of the repo
find_binaries() {
        local repo build_dir b
        repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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
}

# require_vps_count N MAX: exit 2 with the usage unless N is a number of VPS
# from 1 to MAX (no leading zero, no sign)
require_vps_count() {
        case $1 in
        '' | *[!0-9]* | 0*) ;;
        *) [ "$1" -le "$2" ] && return 0 ;;
        esac
        echo "usage: $prog N   (N: number of VPS, 1..$2)" >&2
        exit 2
}

# require_tools TOOL...: exit unless every TOOL is on PATH
require_tools() {
        local t
        for t in "$@"; do
                command -v "$t" >/dev/null || { echo "$prog: $t is required" >&2; exit 1; }
        done
}

# ---- the private vsd --------------------------------------------------------

# make_root: make the private state root and export it as VS_ROOT for vsctl
make_root() {
        ROOT=$(mktemp -d "/tmp/paene-$tag.XXXXXX")
        export VS_ROOT=$ROOT
}

# start_vsd: start vsd on $ROOT in a network namespace of its own; it detaches
# once ready, and VSD_PID is then its pid
start_vsd() {
        unshare -n "$VSD" --root "$ROOT" --cgroup-name "$CG" </dev/null
        VSD_PID=$(cat "$ROOT/run/paene/vsd.pid")
        is_our_vsd "$VSD_PID" || { echo "$prog: vsd pid file names $VSD_PID, not our vsd" >&2; exit 1; }
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

# ---- clean-up ---------------------------------------------------------------

# destroy_all_vps: stop (at once) and destroy every VPS our vsd has, each
# step bounded, errors ignored: what is left, check_host reports
destroy_all_vps() {
        local n names
        names=$(timeout 10 "$VSCTL" --root "$ROOT" list -a -H -o name </dev/null 2>/dev/null) || :
        for n in $names; do
                timeout 30 "$VSCTL" --root "$ROOT" stop --fast "$n" </dev/null >/dev/null 2>&1 || :
                timeout 30 "$VSCTL" --root "$ROOT" destroy --force "$n" </dev/null >/dev/null 2>&1 || :
        done
        return 0
}

# finish: the end of a run that went well: every VPS destroyed, vsd stopped,
# phase "done" (the trap then only removes the root and checks the host)
finish() {
        phase="destroying the VPS"
        destroy_all_vps
        phase="stopping vsd"
        stop_vsd
        phase=done
}

# stop_view: the /proc view's server (vsview) outlives vsd by design; ours
# (named in the root's pid file, serving our root) goes before the root does
stop_view() {
        local pid i
        [ -n "$ROOT" ] || return 0
        pid=$(cat "$ROOT/run/paene/vsview.pid" 2>/dev/null) || return 0
        case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in
        "vsview --root $ROOT "*) kill -KILL "$pid" 2>/dev/null || return 0 ;;
        *) return 0 ;;
        esac
        for ((i = 0; i < 50; i++)); do
                tr -d '\0' <"/proc/$pid/cmdline" 2>/dev/null | grep -q . || return 0
                sleep 0.1
        done
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

# check_host: what this run left behind, for report_host: left_mounts (mount
# points under $ROOT), left_cgroups (directories named $CG), left_vsd (1 if
# our vsd still runs), left_root (1 if $ROOT still exists); each empty if none
check_host() {
        left_mounts=$(if [ -n "$ROOT" ]; then mounts_under "$ROOT"; fi)
        left_cgroups=$(cgroup_dirs)
        left_vsd=
        if [ -n "$VSD_PID" ] && is_our_vsd "$VSD_PID"; then left_vsd=1; fi
        left_root=
        if [ -n "$ROOT" ] && [ -e "$ROOT" ]; then left_root=1; fi
}

# host_clean: check_host found nothing left
host_clean() {
        [ -z "$left_mounts$left_cgroups$left_vsd$left_root" ]
}

# cleanup: the EXIT trap. Unless the script got to phase "done", destroys
# what VPS vsd still has and stops vsd (killing any orphans); then unmounts
# and removes $ROOT, and has report_host say whether the host is clean.
# Exits with the script's status, or 1 if it was 0 but the host is not clean.
# private_vsd_with_busybox CONF: a private root whose vsd.conf says CONF,
# its vsd started and the busybox template built (phase names each step
# for the clean-up's report)
private_vsd_with_busybox() {
        phase="making the private root"
        make_root
        mkdir -p "$ROOT/etc/paene"
        printf '%s\n' "$1" >"$ROOT/etc/paene/vsd.conf"
        phase="starting vsd"
        start_vsd
        phase="building the template"
        timeout 300 "$VSCTL" template build busybox </dev/null >/dev/null
}

# On cgroup v2 vsd's own leaf also holds vsview and the console keeper,
# which outlive vsd by design: once they are gone it is empty, and this
# run's to remove (an rmdir takes only an empty cgroup; what is left is
# reported).
remove_empty_cgroups() {
        local d
        for d in $(cgroup_dirs); do
                find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        return 0
}
cleanup() {
        local rc=$? m
        trap '' INT TERM
        set +e
        if [ "$phase" != "done" ]; then
                echo "$prog: failed during $phase (exit $rc); cleaning up" >&2
                if [ -z "$VSD_PID" ] && [ -n "$ROOT" ] && [ -r "$ROOT/run/paene/vsd.pid" ]; then
                        VSD_PID=$(cat "$ROOT/run/paene/vsd.pid" 2>/dev/null)
                fi
                is_our_vsd "$VSD_PID" && destroy_all_vps
                stop_vsd
                is_our_vsd "$VSD_PID" || kill_orphans
        fi
        stop_view
        remove_empty_cgroups
        if [ -n "$ROOT" ]; then
                for m in $(mounts_under "$ROOT"); do umount "$m" 2>/dev/null || umount -l "$m"; done
                if [ -z "$(mounts_under "$ROOT")" ]; then
                        rm -rf --one-file-system "$ROOT"
                fi
        fi

        ! declare -F restore_host >/dev/null || restore_host
        check_host
        if ! report_host && [ "$rc" = 0 ]; then
                rc=1
        fi
        exit "$rc"
}

# report_host: the default, for the benchmarks; on stderr, only what is
# left, or one line saying all is clean (demo.sh has its own)
report_host() {
        [ -z "$left_mounts" ] || echo "$prog: LEFT: mounts under $ROOT: $left_mounts" >&2
        [ -z "$left_cgroups" ] || echo "$prog: LEFT: cgroup dirs: $left_cgroups" >&2
        [ -z "$left_vsd" ] || echo "$prog: LEFT: vsd pid $VSD_PID still running" >&2
        [ -z "$left_root" ] || echo "$prog: LEFT: $ROOT still exists" >&2
        host_clean || return 1
        echo "# cleaned up: no mounts under ${ROOT:-the root}, no cgroup $CG, vsd ${VSD_PID:-} gone, root removed" >&2
}

# install_traps: from here on, any exit runs cleanup
install_traps() {
        trap cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
}
