#!/bin/bash
# paene Debian boot benchmark: how long a systemd Debian takes from
# `vsctl start` to `systemctl is-system-running` = running in a default
# (unprivileged) VPS, median of N boots, beside LXC's lxc-start of the same
# root file system as an unprivileged container (its own id map) in the same
# run. (The memory of idle Debian VPS is contrib/bench/customer.sh's.)
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
# Usage: [BUILD=build] contrib/bench/boot.sh [TARBALL] [N]
#        (as root; TARBALL: a debootstrapped bookworm with systemd-sysv,
#        default $PAENE_DEBIAN_TAR or the test fixture that
#        tests/integration/debianlib.sh caches in
#        $BUILD/cache/debian-bookworm-minbase-systemd-cron.tar.zst;
#        N default 10; NO_LXC=1 skips LXC)
# Figures go to stdout; progress and the clean-up report go to stderr.
set -euo pipefail
export LC_ALL=C

prog=boot.sh
tag=boot
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"

TARBALL=${1:-${PAENE_DEBIAN_TAR:-${BUILD:-build}/cache/debian-bookworm-minbase-systemd-cron.tar.zst}}
N=${2:-10}
LXC_BASE=2000000000 # LXC's id range: off paene's 65536-aligned grid
BOOT_LIMIT=60       # seconds a boot may take before it counts as stuck
case $N in '' | *[!0-9]* | 0*) echo "usage: $prog [TARBALL] [N]" >&2; exit 2 ;; esac
[ -f "$TARBALL" ] || { echo "$prog: no rootfs tarball $TARBALL" >&2; exit 2; }
require_root "sudo contrib/bench/boot.sh"
find_binaries
require_tools unshare timeout mktemp awk sort python3
[ -n "${EPOCHREALTIME:-}" ] || { echo "$prog: needs bash 5" >&2; exit 1; }
USE_LXC=1
NO_LXC_WHY=
if [ "${NO_LXC:-0}" = 1 ]; then
        USE_LXC=0 NO_LXC_WHY="NO_LXC=1"
elif ! command -v lxc-start >/dev/null; then
        USE_LXC=0 NO_LXC_WHY="lxc-start not found (apt-get install --no-install-recommends lxc)"
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

echo "paene Debian boot benchmark: N=$N boots; $(date -u '+%F %H:%M UTC')"
echo "machine: nproc $(nproc), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo); load $(uptime | sed "s/.*load average: //")"
echo "rootfs: $TARBALL ($(tar -tf "$TARBALL" | grep -c '^\./usr/lib/systemd/system/.*\.service$') systemd service units)"

# ---- the boots: paene's and LXC's in turn ------------------------------------
# (in turn, so that the load of a shared machine weighs on both alike)

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

paene_boot() { # boot i: start, booted, stop
        now_us; t0=$REPLY
        "$VSCTL" start boot0 </dev/null >/dev/null
        state=$("$VSCTL" exec boot0 -- sh -c "$WAIT_BOOTED" </dev/null) ||
                { echo "$prog: paene boot $1: '$state' after ${BOOT_LIMIT}s" >&2; exit 1; }
        now_us; t1=$REPLY
        paene_states+=("$state")
        paene+=($((t1 - t0)))
        now_us; s0=$REPLY
        timeout 30 "$VSCTL" stop boot0 --timeout 10 </dev/null >/dev/null
        now_us; s1=$REPLY
        stops+=($((s1 - s0)))
        case $("$VSCTL" status boot0 </dev/null) in
        *SIGKILL*) echo "$prog: paene's stop $1 ended in SIGKILL" >&2; exit 1 ;;
        esac
}

# boot i of LXC's; non-zero (LXC_WHY says why) when LXC cannot boot it
lxc_boot() {
        now_us; t0=$REPLY
        if ! lxc start -d </dev/null || ! lxc wait -s RUNNING -t 30 </dev/null; then
                LXC_WHY="lxc-start failed here: $(grep -m 1 ERROR "$LXC_PATH/$LXC_NAME/log" 2>/dev/null || echo 'no error in its log')"
                return 1
        fi
        if ! state=$(lxc_in sh -c "$WAIT_BOOTED" </dev/null); then
                LXC_WHY="boot $1: systemd still '$state' after ${BOOT_LIMIT}s"
                lxc stop -k </dev/null
                return 1
        fi
        now_us; t1=$REPLY
        lxc_times+=($((t1 - t0)))
        lxc_states+=("$state")
        if [ "$state" != running ]; then
                failed=$(lxc_in systemctl --failed --no-legend --plain </dev/null | awk '{print $1}' | paste -sd' ')
        fi
        lxc stop -t 10 </dev/null
}

phase="preparing the boots"
timeout 60 "$VSCTL" create boot0 --template deb --ipadd none </dev/null >/dev/null
paene=() paene_states=() stops=() lxc_times=() lxc_states=() failed= LXC_WHY=$NO_LXC_WHY
if [ "$USE_LXC" = 1 ]; then
        # its own directory, which the container's root may traverse
        # (the private root is 0700)
        LXC_PATH=$(mktemp -d /tmp/paene-boot-lxc.XXXXXX)
        chmod 0755 "$LXC_PATH"
        lxc_copy
        lxc_bin
        lxc_config
fi
phase="the boots"
for ((i = 0; i < N; i++)); do
        paene_boot "$i"
        if [ "$USE_LXC" = 1 ] && ! lxc_boot "$i"; then
                USE_LXC=0
        fi
done
printf '%s\n' "${paene[@]}" | summary_ms "paene: vsctl start -> booted" 34 8.1
echo "paene: state when booted: $(printf '%s\n' "${paene_states[@]}" | sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')"
printf '%s\n' "${stops[@]}" | summary_ms "paene: vsctl stop (systemd halt)" 34 8.1
if [ "${#lxc_times[@]}" -gt 0 ]; then
        printf '%s\n' "${lxc_times[@]}" | summary_ms "LXC: lxc-start -> booted" 34 8.1
        echo "LXC: state when booted: $(printf '%s\n' "${lxc_states[@]}" | sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')${failed:+ (failed: $failed)}"
fi
[ -z "$LXC_WHY" ] || echo "LXC: not measured${lxc_times:+ past boot ${#lxc_times[@]}}: $LXC_WHY"
lxc_cleanup
timeout 60 "$VSCTL" destroy boot0 </dev/null >/dev/null
echo "load after $(uptime | sed "s/.*load average: //")"

phase="stopping vsd"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }
phase="done"
