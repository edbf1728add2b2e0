#!/bin/bash
# paene Debian boot benchmark: how long a systemd Debian takes from
# `vsctl start` to `systemctl is-system-running` = running in a default
# (unprivileged) VPS, median of N boots, beside LXC's lxc-start of the same
# root file system as an unprivileged container (its own id map) in the same
# run; then the host memory of one idle Debian VPS and of M of them.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own
# network namespace) and imports the Debian rootfs tarball as a template.
# Both runtimes boot without a network (paene: --ipadd none; LXC:
# lxc.net.0.type = empty) and reuse one instance for all N boots (the first
# boot is a first boot, for both). "running" is polled from inside every
# 10 ms by one process (vsctl exec / lxc-attach), started right after
# start returns. LXC's container lives in a copy of the rootfs shifted to
# its ids, under this run's root, with its cgroup under this script's own
# (lxc.cgroup.relative, lxc.cgroup.dir). A trap cleans up on any failure or
# interruption and checks that the host is left as it was.
#
# Usage: [BUILD=build] contrib/bench/boot.sh [TARBALL] [N] [M]
#        (as root; TARBALL: a debootstrapped bookworm with systemd-sysv,
#        default $PAENE_DEBIAN_TAR or /work/cache/bookworm-ssh.tar, which
#        has openssh-server for the idle VPS; N default 10;
#        M default 50; NO_LXC=1 skips LXC)
# Figures go to stdout; progress and the clean-up report go to stderr.
set -euo pipefail
export LC_ALL=C

prog=boot.sh
tag=boot
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

TARBALL=${1:-${PAENE_DEBIAN_TAR:-/work/cache/bookworm-ssh.tar}}
N=${2:-10}
M=${3:-50}
LXC_BASE=2000000000 # LXC's id range: off paene's 65536-aligned grid
BOOT_LIMIT=60       # seconds a boot may take before it counts as stuck
for v in "$N" "$M"; do
        case $v in '' | *[!0-9]* | 0*) echo "usage: $prog [TARBALL] [N] [M]" >&2; exit 2 ;; esac
done
[ -f "$TARBALL" ] || { echo "$prog: no rootfs tarball $TARBALL" >&2; exit 2; }
require_root "sudo contrib/bench/boot.sh"
find_binaries
require_tools unshare timeout mktemp awk sort python3
[ -n "${EPOCHREALTIME:-}" ] || { echo "$prog: needs bash 5" >&2; exit 1; }
USE_LXC=1
if [ "${NO_LXC:-0}" = 1 ]; then
        USE_LXC=0
elif ! command -v lxc-start >/dev/null; then
        echo "$prog: lxc-start not found (apt-get install lxc); LXC is left out" >&2
        USE_LXC=0
fi

LXC_PATH=
LXC_NAME=paene-boot-$$
# LXC's cgroups: $CG-lxc beneath our own cgroup on each hierarchy
lxc_cgroup_dirs() {
        local root mnt p
        awk '{ for (i = 7; i <= NF && $i != "-"; i++) ; if ($(i+1) ~ /^cgroup2?$/) print $4, $5 }' \
                /proc/self/mountinfo | while read -r root mnt; do
                cut -d: -f3- /proc/self/cgroup | sort -u | while read -r p; do
                        [ "$root" = / ] || p=${p#"$root"}
                        [ -d "$mnt${p%/}/$CG-lxc" ] && echo "$mnt${p%/}/$CG-lxc"
                done
        done | sort -u
}
lxc_cleanup() {
        local d
        [ -n "$LXC_PATH" ] && [ -d "$LXC_PATH" ] || return 0
        if lxc info -s 2>/dev/null | grep -q RUNNING; then
                timeout 30 env PATH="$LXC_PATH/bin" /usr/bin/lxc-stop -P "$LXC_PATH" -n "$LXC_NAME" -k >/dev/null 2>&1
        fi
        for d in $(lxc_cgroup_dirs); do
                find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
        done
        [ -z "$(lxc_cgroup_dirs)" ] || echo "$prog: LEFT: LXC cgroups $(lxc_cgroup_dirs)" >&2
        if grep -q ERROR "$LXC_PATH/$LXC_NAME/log" 2>/dev/null; then
                echo "$prog: LXC's log:" >&2
                grep ERROR "$LXC_PATH/$LXC_NAME/log" | head -5 >&2
        fi
        rm -rf --one-file-system "${LXC_PATH:?}"
}
# LXC maps ids itself when run by root, unless it finds newuidmap on PATH
# (then /etc/subuid must grant root the range, which we do not change): it
# runs with a PATH of every host tool but those two.
lxc_bin() {
        local f b
        mkdir -p "$LXC_PATH/bin"
        for f in /usr/bin/* /usr/sbin/*; do
                b=${f##*/}
                case $b in newuidmap | newgidmap) continue ;; esac
                [ -e "$LXC_PATH/bin/$b" ] || ln -s "$f" "$LXC_PATH/bin/$b"
        done
}
lxc() { env PATH="$LXC_PATH/bin" "/usr/bin/lxc-$1" -P "$LXC_PATH" -n "$LXC_NAME" "${@:2}"; }
# lxc-attach with the container's own PATH
lxc_in() { lxc attach --clear-env -v PATH=/usr/sbin:/usr/bin:/sbin:/bin -- "$@"; }
install_traps
trap 'rc=$?; lxc_cleanup; (exit $rc); cleanup' EXIT

now_us() { local t=$EPOCHREALTIME; REPLY=${t/[.,]/}; }

# median LABEL < microseconds: median min max in ms
median() {
        sort -n | awk -v label="$1" '
                { v[NR] = $1 }
                END {
                        n = NR
                        med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
                        printf "%-34s median %8.1f  min %8.1f  max %8.1f  (ms, n=%d)\n",
                                label, med / 1000, v[1] / 1000, v[n] / 1000, n
                }'
}

# Until systemd has finished booting: prints its state then (running, or
# degraded when a unit failed); fails after 60 s with the state it is in.
WAIT_BOOTED='i=0; while :; do s=$(systemctl is-system-running 2>/dev/null)
        case $s in running | degraded) echo "$s"; exit 0 ;; esac
        i=$((i + 1)); [ $i -lt 6000 ] || { echo "${s:-unknown}"; exit 1; }; sleep 0.01; done'

phase="making the private root"
make_root
phase="starting vsd"
start_vsd
phase="importing $TARBALL"
echo "# vsd pid $VSD_PID on $ROOT; importing $TARBALL" >&2
timeout 300 "$VSCTL" template import deb "$TARBALL" </dev/null >/dev/null

echo "paene Debian boot benchmark: N=$N boots, then M=$M idle VPS"
echo "machine: nproc $(nproc), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
echo "rootfs: $TARBALL ($(tar -tf "$TARBALL" | grep -c '^\./usr/lib/systemd/system/.*\.service$') systemd service units)"

# ---- paene boots ----------------------------------------------------------------

phase="paene boots"
timeout 60 "$VSCTL" create boot0 --template deb --ipadd none </dev/null >/dev/null
paene=()
for ((i = 0; i < N; i++)); do
        now_us; t0=$REPLY
        "$VSCTL" start boot0 </dev/null >/dev/null
        state=$("$VSCTL" exec boot0 -- sh -c "$WAIT_BOOTED" </dev/null) ||
                { echo "$prog: paene boot $i: '$state' after ${BOOT_LIMIT}s" >&2; exit 1; }
        now_us; t1=$REPLY
        paene_states+=("$state")
        paene+=($((t1 - t0)))
        now_us; s0=$REPLY
        timeout 30 "$VSCTL" stop boot0 --timeout 10 </dev/null >/dev/null
        now_us; s1=$REPLY
        stops+=($((s1 - s0)))
done
case $("$VSCTL" status boot0 </dev/null) in
*SIGKILL*) echo "$prog: paene's last stop ended in SIGKILL" >&2; exit 1 ;;
esac
printf '%s\n' "${paene[@]}" | median "paene: vsctl start -> booted"
echo "paene: state when booted: $(printf '%s\n' "${paene_states[@]}" | sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')"
printf '%s\n' "${stops[@]}" | median "paene: vsctl stop (systemd halt)"

# ---- LXC boots ------------------------------------------------------------------

lxc_copy() { # the template's rootfs, shifted to LXC's ids
        mkdir -p "$LXC_PATH/$LXC_NAME"
        cp -a "$ROOT/var/lib/paene/templates/deb/rootfs" "$LXC_PATH/$LXC_NAME/rootfs"
        python3 - "$LXC_PATH/$LXC_NAME/rootfs" "$LXC_BASE" <<'EOF'
import os, sys
top, base = sys.argv[1], int(sys.argv[2])
for dirpath, dirs, files in os.walk(top):
    for name in [dirpath] + [os.path.join(dirpath, f) for f in dirs + files]:
        st = os.lstat(name)
        mode = st.st_mode
        os.lchown(name, base + st.st_uid, base + st.st_gid)
        if not os.path.islink(name):
            os.chmod(name, mode & 0o7777)  # chown drops setuid bits
EOF
}

lxc_config() {
        local own
        own=$(awk -F: '$1 == 0 {print $3}' /proc/self/cgroup)
        cat >"$LXC_PATH/$LXC_NAME/config" <<EOF
lxc.uts.name = lxcboot
lxc.rootfs.path = dir:$LXC_PATH/$LXC_NAME/rootfs
lxc.idmap = u 0 $LXC_BASE 65536
lxc.idmap = g 0 $LXC_BASE 65536
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /usr/share/lxc/config/userns.conf
lxc.cgroup.relative = 1
lxc.cgroup.dir = $CG-lxc
lxc.tty.max = 0
lxc.pty.max = 16
lxc.log.file = $LXC_PATH/$LXC_NAME/log
lxc.log.level = WARN
EOF
        echo "# LXC container $LXC_NAME; our cgroup ${own:-/}" >&2
        echo "LXC $(lxc-start --version): unprivileged (ids from $LXC_BASE), common.conf + userns.conf, no network, a copy of the rootfs"
}

if [ "$USE_LXC" = 1 ]; then
        phase="LXC boots"
        # its own directory, which the container's root may traverse
        # (the private root is 0700)
        LXC_PATH=$(mktemp -d /tmp/paene-boot-lxc.XXXXXX)
        chmod 0755 "$LXC_PATH"
        lxc_copy
        lxc_bin
        lxc_config
        lxc_times=()
        lxc_states=()
        failed=
        for ((i = 0; i < N; i++)); do
                now_us; t0=$REPLY
                lxc start -d </dev/null
                lxc wait -s RUNNING -t 30 </dev/null
                if ! state=$(lxc_in sh -c "$WAIT_BOOTED" </dev/null); then
                        echo "LXC: boot $i: systemd still '$state' after ${BOOT_LIMIT}s"
                        lxc stop -k </dev/null
                        break
                fi
                now_us; t1=$REPLY
                lxc_times+=($((t1 - t0)))
                lxc_states+=("$state")
                if [ "$state" != running ]; then
                        failed=$(lxc_in systemctl --failed --no-legend --plain </dev/null | awk '{print $1}' | paste -sd' ')
                fi
                lxc stop -t 10 </dev/null
        done
        if [ "${#lxc_times[@]}" -gt 0 ]; then
                printf '%s\n' "${lxc_times[@]}" | median "LXC: lxc-start -> booted"
                echo "LXC: state when booted: $(printf '%s\n' "${lxc_states[@]}" | sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')${failed:+ (failed: $failed)}"
        fi
        lxc_cleanup
fi
timeout 60 "$VSCTL" destroy boot0 </dev/null >/dev/null

# ---- memory -------------------------------------------------------------------

pss_kib() { # PSS of the processes whose pids are on stdin
        local pid total=0 v
        while read -r pid; do
                v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
                total=$((total + ${v:-0}))
        done
        echo "$total"
}
vps_pids() { # every process in the VPS's cgroups (the first hierarchy holds them all)
        local d
        d=$(cgroup_dirs | head -1)
        find "$d/default" -name cgroup.procs -exec cat {} + 2>/dev/null
}
keeper_pids() { # the console keepers of this run's vsd
        local p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = vsd-console ] || continue
                tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "--root $ROOT " && echo "${p#/proc/}"
        done
}
charged_kib() { # what the VPS's cgroups are charged, summed
        "$VSCTL" list -j -o name,mem_bytes </dev/null |
                python3 -c 'import json,sys; print(sum(v["mem_bytes"] for v in json.load(sys.stdin)) // 1024)'
}

# boot COUNT VPS (idle0..), wait until each runs, let them settle
idle_vps() {
        local n=$1 i
        for ((i = 0; i < n; i++)); do
                timeout 60 "$VSCTL" create "idle$i" --template deb --ipadd none </dev/null >/dev/null
                timeout 60 "$VSCTL" start "idle$i" </dev/null >/dev/null
        done
        for ((i = 0; i < n; i++)); do
                timeout 120 "$VSCTL" exec "idle$i" -- sh -c "$WAIT_BOOTED" </dev/null >/dev/null ||
                        { echo "$prog: idle$i did not boot" >&2; exit 1; }
                # the figures are of a VPS that serves: sshd and cron run
                timeout 30 "$VSCTL" exec "idle$i" -- systemctl is-active $IDLE_SERVICES \
                        </dev/null >/dev/null ||
                        { echo "$prog: idle$i: not all of $IDLE_SERVICES active" >&2; exit 1; }
        done
        sleep 10 # idle: let the boots' short-lived work end
}

# memory_of COUNT: one line of figures. PSS (proportional set size) is what
# the host holds for those processes, shared pages split among their users;
# the cgroup charge adds the page cache and kernel memory charged to the VPS.
memory_of() {
        local n=$1 i
        idle_vps "$n"
        awk -v n="$n" -v p="$(vps_pids | pss_kib)" -v k="$(keeper_pids | pss_kib)" \
                -v c="$(charged_kib)" -v np="$(vps_pids | wc -l)" 'BEGIN {
                printf "memory, %2d idle VPS: PSS %7.1f MiB (%4.1f MiB each, %d processes), keepers %5.1f MiB (%3.1f each); cgroups charged %7.1f MiB (%4.1f each)\n",
                        n, p / 1024, p / 1024 / n, np / n, k / 1024, k / 1024 / n, c / 1024, c / 1024 / n }'
        for ((i = 0; i < n; i++)); do
                timeout 60 "$VSCTL" destroy --force "idle$i" </dev/null >/dev/null
        done
}

# an idle VPS with sshd and cron (as a customer's is), where the rootfs
# has sshd; else cron alone, and the figures say so
IDLE_SERVICES="cron ssh"
if [ ! -x "$ROOT/var/lib/paene/templates/deb/rootfs/usr/sbin/sshd" ]; then
        IDLE_SERVICES=cron
        echo "# $TARBALL has no openssh-server: the idle VPS run cron without sshd" >&2
fi
echo "idle VPS: systemd with $IDLE_SERVICES active in each"
phase="memory of one idle VPS"
memory_of 1
phase="memory of $M idle VPS"
memory_of "$M"

phase="stopping vsd"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }
phase="done"
