#!/bin/bash
# Detached start of a busybox init: paene's `vsctl start` beside crun's
# `crun run -d` and LXC's `lxc-start -d`, interleaved in one run (issue 13).
#
# One round starts one of each, in an order that rotates from round to
# round, and stops and removes each after its start (not timed). Every
# figure is from just before the runtime's command is exec'd to just after
# it exits (what an admin's script pays). All three run the same busybox
# init on the same files: crun and LXC use a copy of paene's busybox
# template root.
#
#   paene  a private vsd (own root, cgroup name and network namespace, as
#          start.sh); VPS made with --ipadd none (no-veth) or with an
#          address from vsd's pool: routed (veth) or on vsd's bridge
#          (bridge); its default isolation: a user namespace of its own
#          ids, the /proc view, a console
#   crun   `crun run -d` of a bundle whose process is /sbin/init, crun's
#          default spec (root, no user namespace, a network namespace of
#          its own); cgroupsPath below this shell's own cgroup; veth and
#          bridge modes: crun makes no veth, so the timed part goes on
#          with what an admin's script (or a CNI plugin) does: a veth
#          pair made with one end in the container's namespace, the other
#          on the bridge and up, and inside the address, the link up and
#          the default route (two ip batches, one through nsenter)
#   LXC    `lxc-start -d` of a privileged container (common.conf, a
#          private lxcpath under /tmp, lxc.cgroup.dir below this shell's
#          cgroup); no-veth: lxc.net.0.type = empty; veth and bridge: a
#          veth on a bridge with its address and gateway (lxc.net.0.*)
#
# The same work in veth and bridge modes for all three: a veth pair, one
# end in the container's network namespace with an address and a default
# route, the other end up on the host side (paene routed: a host route to
# the address; paene bridge, crun and LXC: on a bridge).
#
# crun and LXC run inside a private mount and network namespace made for
# the run (unshare -m -n): there a tmpfs hides this hybrid host's cgroup2
# mount (crun refuses a hybrid host whose cgroup2 has controllers), and the
# bridge crun's and LXC's veths join lives there, never in the host's
# namespace. A sysfs of that network namespace goes on /sys (the host's
# cgroup hierarchies moved onto it): LXC looks for the bridge in
# /sys/class/net, and the host's sysfs has no cmpbr0 (that is why it
# aborted before, "Received container state ABORTING"). The
# namespace goes when the run does. A trap stops what runs and removes
# every cgroup, mount, container and directory the run made, also on
# failure or Ctrl-C, and then checks that nothing is left.
#
# Usage: [BUILD=build] contrib/bench/start-compare.sh [N] [no-veth|veth|bridge]
#        (as root; N starts of each runtime, default 100; default no-veth)
# Needs: crun (apt-get install crun), lxc (apt-get install lxc), busybox.
# Figures go to stdout; progress and the clean-up report go to stderr.
set -euo pipefail
export LC_ALL=C
# now_us for the inner part, summary_ms and median_us for the outer
# shellcheck source-path=SCRIPTDIR source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"

# ---- the inner part: the rounds, inside unshare -m -n ------------------------
# (the script runs itself so; its environment carries what the outer part set)

inner_cleanup() {
        set +e
        crun --root "$WORK/crun" delete -f cmp >/dev/null 2>&1
        if [ -n "$(lxc_info)" ]; then
                timeout 30 lxc-stop -P "$WORK/lxc" -n cmp -k >/dev/null 2>&1
        fi
        umount /sys/fs/cgroup/unified 2>/dev/null
}
lxc_info() { lxc-info -P "$WORK/lxc" -n cmp -s 2>/dev/null | grep -v STOPPED; }

# check_init RUNTIME PID CGROUP: (not timed) PID is the container's busybox
# init, and on the memory hierarchy it is in a cgroup below CGROUP
check_init() {
        local exe cg
        exe=$(readlink "/proc/$2/exe" 2>/dev/null) || exe=
        cg=$(sed -n 's/^[0-9]*:memory://p' "/proc/$2/cgroup" 2>/dev/null) || cg=
        case $exe in */busybox) ;; *)
                echo "start-compare.sh: $1's container runs no busybox init after its start (pid '$2', exe '$exe')" >&2
                exit 1 ;;
        esac
        case $cg in *"$3"*) ;; *)
                echo "start-compare.sh: $1's init is in memory cgroup '$cg', not below $3" >&2
                exit 1 ;;
        esac
}

# CPU per start (clock ticks, user + system; the containers' inits not
# counted): what the runtime's own processes used. ticks PID FIELDS: the
# sum of PID's /proc stat fields FIELDS (14 utime, 15 stime, 16 cutime,
# 17 cstime: its waited-for children); kids: this shell's waited-for
# children (the timed commands and what they waited for)
ticks() {
        local f
        read -r f </proc/"$1"/stat
        f=${f##*) } # past the command name
        # shellcheck disable=SC2086 # split into fields
        set -- "$2" $f
        local sum=0 k
        for k in $1; do sum=$((sum + ${*:k-1:1})); done
        REPLY=$sum
}
kids() { ticks "$BASHPID" "16 17"; }

paene_round() {
        local c0 c1 v0 v1
        kids; c0=$REPLY
        ticks "$VSD_PID" "14 15 16 17"; v0=$REPLY
        now_us; t0=$REPLY
        "$VSCTL" start cmp </dev/null >/dev/null
        now_us; t1=$REPLY
        ticks "$VSD_PID" "14 15 16 17"; v1=$REPLY
        kids; c1=$REPLY
        echo $((t1 - t0)) >>"$WORK/paene.us"
        echo $((c1 - c0 + v1 - v0)) >>"$WORK/paene.ticks"
        case $(timeout 10 "$VSCTL" status cmp </dev/null) in
        "cmp exist running"*) ;;
        *) echo "start-compare.sh: paene's VPS is not running after its start" >&2; exit 1 ;;
        esac
        timeout 30 "$VSCTL" stop --fast cmp </dev/null >/dev/null
}
crun_round() {
        local c0 c1
        kids; c0=$REPLY
        now_us; t0=$REPLY
        crun --root "$WORK/crun" run -d --pid-file "$WORK/crun.pid" --bundle "$WORK/bundle" cmp </dev/null >/dev/null
        if [ "$MODE" != no-veth ]; then
                crun_veth "$(<"$WORK/crun.pid")"
        fi
        now_us; t1=$REPLY
        kids; c1=$REPLY
        echo $((t1 - t0)) >>"$WORK/crun.us"
        echo $((c1 - c0)) >>"$WORK/crun.ticks"
        check_init crun "$(<"$WORK/crun.pid")" "$CRUN_CG"
        if [ "$MODE" != no-veth ]; then
                check_addr crun "$(<"$WORK/crun.pid")" 10.250.0.3
        fi
        # (not timed) the veth goes now, not when the kernel gets to the
        # dead namespace: the next round makes vcmp again
        [ "$MODE" = no-veth ] || ip link del vcmp
        timeout 30 crun --root "$WORK/crun" delete -f cmp </dev/null >/dev/null
}
# crun_veth PID: the veth of crun's container PID, as a script would make it
crun_veth() {
        ip -b - <<EOF
link add vcmp type veth peer name eth0 netns $1
link set vcmp master cmpbr0 up
EOF
        nsenter -t "$1" -n ip -b - <<EOF
link set lo up
addr add 10.250.0.3/24 dev eth0
link set eth0 up
route add default via 10.250.0.1
EOF
}
# check_addr RUNTIME PID ADDR: (not timed) PID's network namespace has ADDR
# on eth0 with a default route
check_addr() {
        local a r
        a=$(nsenter -t "$2" -n ip -4 -o addr show dev eth0 2>/dev/null) || a=
        r=$(nsenter -t "$2" -n ip -4 route show default 2>/dev/null) || r=
        case $a in *" $3/"*) ;; *)
                echo "start-compare.sh: $1's container has not $3 on eth0 after its start ('$a')" >&2
                exit 1 ;;
        esac
        [ -n "$r" ] || { echo "start-compare.sh: $1's container has no default route after its start" >&2; exit 1; }
}
lxc_round() {
        local c0 c1 pid m
        kids; c0=$REPLY
        now_us; t0=$REPLY
        lxc-start -P "$WORK/lxc" -n cmp -d </dev/null >/dev/null
        now_us; t1=$REPLY
        kids; c1=$REPLY
        echo $((t1 - t0)) >>"$WORK/lxc.us"
        pid=$(lxc-info -P "$WORK/lxc" -n cmp -p -H)
        # its monitor (the init's parent, made by this start) so far
        read -r _ _ _ m _ <"/proc/$pid/stat"
        ticks "$m" "14 15 16 17"
        echo $((c1 - c0 + REPLY)) >>"$WORK/lxc.ticks"
        check_init LXC "$pid" "/$LXC_CG"
        if [ "$MODE" != no-veth ]; then
                check_addr LXC "$pid" 10.250.0.2
        fi
        timeout 30 lxc-stop -P "$WORK/lxc" -n cmp -k </dev/null >/dev/null
}

inner() {
        trap inner_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        # crun refuses a hybrid host whose cgroup2 has controllers; LXC then
        # uses the v1 hierarchies alone, as crun does
        if [ "$MODE" != no-veth ]; then
                # LXC finds the bridge in /sys/class/net: a sysfs of this
                # network namespace on /sys, the cgroup hierarchies moved onto it
                mkdir "$WORK/cgroup"
                mount --rbind /sys/fs/cgroup "$WORK/cgroup"
                mount -t sysfs sysfs /sys
                mount --move "$WORK/cgroup" /sys/fs/cgroup
        fi
        mount -t tmpfs -o size=4k paene-hide-cgroup2 /sys/fs/cgroup/unified
        ip link set lo up
        if [ "$MODE" != no-veth ]; then
                ip link add cmpbr0 type bridge
                ip addr add 10.250.0.1/24 dev cmpbr0
                ip link set cmpbr0 up
        fi
        local i k
        local order=(paene crun lxc)
        for ((i = 0; i < N; i++)); do
                for ((k = 0; k < 3; k++)); do
                        "${order[(i + k) % 3]}_round"
                done
        done
}

if [ "${1:-}" = --inner ]; then
        inner
        exit 0
fi

# ---- the outer part -----------------------------------------------------------

prog=start-compare.sh
tag=cmp
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

N=${1:-100}
MODE=${2:-no-veth}
case $MODE in
no-veth) NET_ARGS=(--ipadd none) ;;
veth | bridge) NET_ARGS=() ;;
*) echo "usage: $prog [N] [no-veth|veth|bridge]" >&2; exit 2 ;;
esac
require_vps_count "$N" 10000
require_root "sudo contrib/bench/start-compare.sh"
[ -n "${EPOCHREALTIME:-}" ] || { echo "$prog: needs bash 5 or later (\$EPOCHREALTIME)" >&2; exit 1; }
find_binaries
require_tools unshare nsenter timeout mktemp awk sort python3 ip mount
for t in crun lxc-start lxc-stop lxc-info; do
        command -v "$t" >/dev/null || { echo "$prog: $t missing (apt-get install crun lxc)" >&2; exit 1; }
done

WORK=
INNER_PID=
OWN=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
CRUN_CG="${OWN%/}/$CG-crun" # crun takes it from each v1 hierarchy's root
LXC_CG="$CG-lxc"            # LXC puts it below its own cgroup on each
MADE=()                     # parents of CRUN_CG crun makes on other hierarchies
for d in /sys/fs/cgroup/*/; do
        p=$d${OWN#/}
        while [ "$p" != "${d%/}" ] && [ ! -e "$p" ]; do
                MADE+=("$p")
                p=${p%/*}
        done
done

# our_cgroups: every directory crun's or LXC's containers of this run could
# have left, on any hierarchy
our_cgroups() {
        local d own
        for d in /sys/fs/cgroup/*/; do
                [ -d "$d${CRUN_CG#/}" ] && echo "$d${CRUN_CG#/}"
                own=$(awk -F: -v h="${d%/}" 'BEGIN { n = split(h, a, "/"); h = a[n] }
                        { n = split($2, c, ","); for (i = 1; i <= n; i++) if (c[i] == h || c[i] == "name=" h) print $3 }' /proc/self/cgroup)
                [ -n "$own" ] || own=/
                find "$d${own#/}" -maxdepth 1 -type d -name "$LXC_CG*" 2>/dev/null
        done
        for d in "${MADE[@]}"; do [ -d "$d" ] && echo "$d"; done
        return 0
}

# our_procs: processes of this run's crun or LXC containers, or their monitors
our_procs() {
        local p
        for p in /proc/[0-9]*; do
                case $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) in
                *"$WORK/"*) echo "${p#/proc/}" ;;
                esac
        done
        return 0
}

compare_cleanup() {
        local d pid i
        set +e
        if [ -n "$INNER_PID" ] && kill -0 "$INNER_PID" 2>/dev/null; then
                kill -TERM "$INNER_PID" 2>/dev/null
                for ((i = 0; i < 100; i++)); do kill -0 "$INNER_PID" 2>/dev/null || break; sleep 0.1; done
        fi
        [ -n "$WORK" ] || return 0
        for pid in $(our_procs); do kill -KILL "$pid" 2>/dev/null; done
        for ((i = 0; i < 50; i++)); do [ -z "$(our_procs)" ] && break; sleep 0.1; done
        # a container that was just killed (or a start LXC aborted) can hold
        # its cgroup a moment longer: try again for up to 5 s
        for ((i = 0; i < 50; i++)); do
                for d in $(our_cgroups); do
                        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
                done
                [ -z "$(our_cgroups)" ] && break
                sleep 0.1
        done
        for d in "${MADE[@]}"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
        if [ -z "$(mounts_under "$WORK")" ]; then rm -rf --one-file-system "$WORK"; fi
        local left=0
        [ -z "$(our_procs)" ] || { echo "$prog: LEFT: processes $(our_procs | paste -sd' ')" >&2; left=1; }
        [ -z "$(our_cgroups)" ] || { echo "$prog: LEFT: cgroups $(our_cgroups | paste -sd' ')" >&2; left=1; }
        [ -z "$(mounts_under "$WORK")" ] || { echo "$prog: LEFT: mounts under $WORK" >&2; left=1; }
        [ ! -e "$WORK" ] || { echo "$prog: LEFT: $WORK" >&2; left=1; }
        if [ -n "$INNER_PID" ] && kill -0 "$INNER_PID" 2>/dev/null; then
                echo "$prog: LEFT: the private namespaces' process $INNER_PID" >&2
                left=1
        fi
        [ "$left" = 1 ] || echo "# cleaned up: no crun or LXC process, cgroup, mount or directory of this run left; its network namespace (bridge, veths) went with its last process" >&2
        return "$left"
}

install_traps
trap 'rc=$?; compare_cleanup || { [ "$rc" != 0 ] || rc=1; }; (exit $rc); cleanup' EXIT

phase="making the private root"
make_root
case $MODE in
veth) PAENE_MODE=routed ;;
bridge) PAENE_MODE=bridge ;;
*) PAENE_MODE= ;;
esac
if [ -n "$PAENE_MODE" ]; then
        mkdir -p "$ROOT/etc/paene"
        printf 'network_mode = %s\npool4 = 10.200.0.0/16\n' "$PAENE_MODE" >"$ROOT/etc/paene/vsd.conf"
fi
phase="starting vsd"
start_vsd
phase="building the template"
echo "# vsd pid $VSD_PID on $ROOT; building the busybox template" >&2
timeout 300 "$VSCTL" template build busybox </dev/null >/dev/null
timeout 60 "$VSCTL" create cmp --template busybox "${NET_ARGS[@]}" </dev/null >/dev/null

phase="preparing crun and LXC"
WORK=$(mktemp -d /tmp/paene-cmp-work.XXXXXX)
chmod 0755 "$WORK" # the containers' roots traverse it
TPL=$ROOT/var/lib/paene/templates/busybox/rootfs
[ -x "$TPL/bin/busybox" ] || { echo "$prog: no busybox template root at $TPL" >&2; exit 1; }
cp -a "$TPL" "$WORK/rootfs"
mkdir -p "$WORK/rootfs/proc" "$WORK/rootfs/sys" "$WORK/rootfs/dev" "$WORK/bundle" "$WORK/crun" "$WORK/lxc/cmp"
crun spec --bundle "$WORK/bundle"
python3 - "$WORK/bundle/config.json" "$WORK/rootfs" "$CRUN_CG" <<'EOF'
import json, sys
path, rootfs, cg = sys.argv[1:]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": False}
c["process"]["terminal"] = False
c["process"]["args"] = ["/sbin/init"]
c["hostname"] = "cmp"
c["linux"]["cgroupsPath"] = cg
json.dump(c, open(path, "w"), indent=1)
EOF
{
        echo "lxc.uts.name = cmp"
        echo "lxc.rootfs.path = dir:$WORK/rootfs"
        echo "lxc.include = /usr/share/lxc/config/common.conf"
        echo "lxc.apparmor.profile = unconfined"
        echo "lxc.cgroup.relative = 1"
        echo "lxc.cgroup.dir = $LXC_CG"
        echo "lxc.init.cmd = /sbin/init"
        echo "lxc.log.file = $WORK/lxc/cmp/log"
        echo "lxc.log.level = WARN"
        if [ "$MODE" != no-veth ]; then
                echo "lxc.net.0.type = veth"
                echo "lxc.net.0.link = cmpbr0"
                echo "lxc.net.0.flags = up"
                echo "lxc.net.0.name = eth0"
                echo "lxc.net.0.ipv4.address = 10.250.0.2/24"
                echo "lxc.net.0.ipv4.gateway = 10.250.0.1"
        else
                echo "lxc.net.0.type = empty"
        fi
} >"$WORK/lxc/cmp/config"
case $(readlink "$WORK/rootfs/sbin/init") in
busybox | */busybox) ;;
*) echo "$prog: the template's /sbin/init is not its busybox" >&2; exit 1 ;;
esac

echo "paene vs crun vs LXC: detached start of a busybox init, N=$N each, interleaved, $MODE; $(date -u '+%F %H:%M UTC')"
echo "machine: nproc $(nproc), kernel $(uname -r); load before $(uptime | sed 's/.*load average: //')"
echo "versions: paene $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo '?'), $(crun --version | head -1), LXC $(lxc-start --version), busybox $("$WORK/rootfs/bin/busybox" 2>&1 | head -1 | awk '{print $2}')"
case $MODE in
veth | bridge) echo "network: paene $PAENE_MODE (a veth, in vsd's namespace); crun a veth on a bridge made by the bench's ip, timed; LXC a veth on a bridge (lxc.net.0.*); crun's and LXC's in a private namespace" ;;
*) echo "network: none (paene --ipadd none, LXC lxc.net.0.type = empty, crun the spec's empty network namespace)" ;;
esac

phase="the rounds"
export WORK N MODE VSCTL VS_ROOT CRUN_CG LXC_CG VSD_PID
unshare -m -n --propagation private bash "$0" --inner &
INNER_PID=$!
wait "$INNER_PID"
INNER_PID=

for r in paene crun lxc; do
        [ "$(wc -l <"$WORK/$r.us")" -eq "$N" ] || { echo "$prog: $r: $(wc -l <"$WORK/$r.us") of $N starts timed" >&2; exit 1; }
done
summary_ms "paene vsctl start" 22 7.2 p99 <"$WORK/paene.us"
crun_label="crun run -d"
[ "$MODE" = no-veth ] || crun_label="crun run -d + ip veth"
summary_ms "$crun_label" 22 7.2 p99 <"$WORK/crun.us"
summary_ms "lxc-start -d" 22 7.2 p99 <"$WORK/lxc.us"
awk -v p="$(median_us <"$WORK/paene.us")" -v c="$(median_us <"$WORK/crun.us")" -v l="$(median_us <"$WORK/lxc.us")" \
        'BEGIN { printf "ratio of medians: paene/crun %.2f, paene/lxc %.2f\n", p / c, p / l }'
hz=$(getconf CLK_TCK)
for r in paene crun lxc; do
        awk -v r="$r" -v hz="$hz" '{ s += $1 } END { printf "%s CPU per start %.2f ms", r, s * 1000 / hz / NR }' "$WORK/$r.ticks"
        case $r in
        paene) echo " (vsctl, vsd and the builders it reaped)" ;;
        crun) echo " (crun and what it waited for$([ "$MODE" = no-veth ] || echo ', ip, nsenter'))" ;;
        lxc) echo " (lxc-start and its monitor until the check)" ;;
        esac
done
echo "load after $(uptime | sed 's/.*load average: //')"
if grep -q ERROR "$WORK/lxc/cmp/log" 2>/dev/null; then
        echo "# LXC's log has errors:" >&2
        grep ERROR "$WORK/lxc/cmp/log" | head -5 >&2
fi

finish
