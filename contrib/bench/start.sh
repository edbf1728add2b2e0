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
# Usage: [BUILD=build] contrib/bench/start.sh [N] [no-net]
#        (as root; N defaults to 100; no-net: VPS made with --ipadd none, so
#        that a start makes no veth: the lifecycle alone)
# Figures go to stdout; progress and the clean-up report go to stderr.
set -euo pipefail
export LC_ALL=C

prog=start.sh
tag=bench
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"

N=${1:-100}
NET_ARGS=()
NET_LABEL="with network"
case ${2:-} in
'') ;;
no-net) NET_ARGS=(--ipadd none) NET_LABEL="without network" ;;
*) echo "usage: $prog N [no-net]" >&2; exit 2 ;;
esac
require_vps_count "$N" 10000
require_root "sudo make bench"
if [ -z "${EPOCHREALTIME:-}" ]; then
        echo "$prog: needs bash 5 or later (\$EPOCHREALTIME)" >&2
        exit 1
fi

find_binaries
require_tools unshare timeout mktemp awk find sort paste stat

install_traps

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
make_root

phase="starting vsd"
start_vsd

phase="building the template"
echo "# vsd pid $VSD_PID on $ROOT; building the busybox template, creating $N VPS" >&2
timeout 300 "$VSCTL" template build busybox </dev/null >/dev/null

phase="creating $N VPS"
for ((i = 0; i < N; i++)); do
        timeout 60 "$VSCTL" create "bench$i" --template busybox "${NET_ARGS[@]}" </dev/null >/dev/null
done

# ---- measurements -------------------------------------------------------------

echo "paene vsctl start/stop benchmark, N=$N (one after another, warm vsd, busybox template, $NET_LABEL)"
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

printf '%s\n' "${starts[@]}" | summary_ms "vsctl start" 18 8.3 p99
awk -v us=$((all1 - all0)) -v n="$N" 'BEGIN { printf "%-18s total    %8.3f s for %d starts\n", "vsctl start", us / 1e6, n }'
printf '%s\n' "${stops[@]}" | summary_ms "vsctl stop --fast" 18 8.3 p99
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
