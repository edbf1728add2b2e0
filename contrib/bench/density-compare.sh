#!/bin/bash
# crun and LXC at density (issue 13), the companion of density.sh: N busybox
# containers of each, one runtime after the other, each container with a veth
# on a bridge and busybox init whose /etc/rc.local starts `httpd -p 80`
# serving the container's hostname, fetched from the bridge's side; the same
# figures as density.sh gives for paene: started, answered, start median of
# the first and last 10%, host memory per container by MemAvailable, slab per
# container and the slab caches that grew most, stop+destroy per container.
#
# All containers of a runtime share one root (a copy of the busybox template
# root given, with density.sh's rc.local in it) and each gets a tmpfs on /tmp
# for its page, as each paene VPS shares its template and writes its own
# layer.
#   crun  `crun run -d` of a bundle per container: crun's default spec (its
#         own network namespace, root, no user namespace), /sbin/init, the
#         container's veth made by this script (ip link ... netns PID) and
#         put on the bridge; cgroupsPath below this shell's own cgroup
#   LXC   `lxc-start -d` of a privileged container (common.conf, a private
#         lxcpath, lxc.cgroup.dir below this shell's cgroup), a veth on the
#         bridge (lxc.net.0.link) with its address and gateway
# Everything runs inside a private mount and network namespace made for the
# run (unshare -m -n): there a tmpfs hides this hybrid host's cgroup2 mount
# (crun refuses a hybrid host whose cgroup2 has controllers; LXC then uses
# the v1 hierarchies alone, as crun does), and the bridge and every veth live
# there, never in the host's namespace; they go with it. A trap stops what
# runs and removes every container, cgroup, mount and directory of the run,
# also on failure or Ctrl-C, and then checks that nothing is left.
#
# Both get permanent neighbour entries (not timed), as paene's VPS do, and
# LXC no ttys (lxc.tty.max = 0: the console alone, a pty as paene's): the
# host's 4096 ptys are shared with other work.
#
# Usage: contrib/bench/density-compare.sh N ROOTFS [crun|lxc|both]
#        (as root; N 1..1000, one bridge's ports; ROOTFS: a busybox root
#        whose /sbin/init runs /etc/rc.local, e.g. paene's busybox template
#        root: density.sh N routed compare passes its own)
# Needs: crun, lxc (apt-get install crun lxc), python3, ip.
# Figures go to stdout; progress and the clean-up report go to stderr.
set -euo pipefail
export LC_ALL=C
# shellcheck source-path=SCRIPTDIR source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"
prog=density-compare.sh

meminfo() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; } # kB
slab_kb() { echo $(($(meminfo SReclaimable) + $(meminfo SUnreclaim))); }
slabinfo() { awk 'NR > 2 {printf "%s %d\n", $1, $2 * $4 / 1024}' /proc/slabinfo | sort; }
addr_of() { echo "10.250.$(($1 / 250)).$(($1 % 250 + 2))"; } # container I's address
mac_of() { printf '02:cc:00:00:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }
GW=10.250.255.254
GW_MAC=02:cc:ff:ff:ff:fe

# ---- the inner part, inside unshare -m -n ------------------------------------

inner_cleanup() {
        local i
        set +e
        for ((i = 0; i < N; i++)); do
                [ ! -e "$WORK/crun/c$i" ] || crun --root "$WORK/crun" delete -f "c$i" >/dev/null 2>&1
                if [ -e "$WORK/lxc/l$i" ] && lxc-info -P "$WORK/lxc" -n "l$i" -s 2>/dev/null | grep -qv STOPPED; then
                        timeout 30 lxc-stop -P "$WORK/lxc" -n "l$i" -k >/dev/null 2>&1
                fi
        done
        umount /sys/fs/cgroup/unified 2>/dev/null
        # the rest of this mount namespace goes with its last process
}

crun_start() { # I
        local pid
        crun --root "$WORK/crun" run -d --pid-file "$WORK/b/c$1/pid" --bundle "$WORK/b/c$1" "c$1" </dev/null >/dev/null
        pid=$(cat "$WORK/b/c$1/pid")
        ip link add "vc$1" type veth peer name eth0 address "$(mac_of "$1")" netns "$pid"
        ip link set "vc$1" master cmpbr0 up
        nsenter -t "$pid" -n ip -b - <<EOF
link set lo up
addr add $(addr_of "$1")/16 dev eth0
link set eth0 up
route add default via $GW
EOF
}
crun_pid() { cat "$WORK/b/c$1/pid"; }
lxc_pid() { lxc-info -P "$WORK/lxc" -n "l$1" -p -H; }
# neighbours RUNTIME I: permanent neighbour entries both ways, as paene
# makes for its VPS: the kernel's neighbour tables are shared by every
# network namespace, and gc_thresh3 (1024, host-wide) caps the entries it
# may make itself: at 1000 containers beside other work, ARP fails for some
neighbours() {
        ip neigh replace "$(addr_of "$2")" lladdr "$(mac_of "$2")" dev cmpbr0 nud permanent
        nsenter -t "$("$1_pid" "$2")" -n ip neigh replace "$GW" lladdr "$GW_MAC" dev eth0 nud permanent
}
crun_stop() { crun --root "$WORK/crun" delete -f "c$1" </dev/null >/dev/null; }
lxc_start() {
        lxc-start -P "$WORK/lxc" -n "l$1" -d </dev/null >/dev/null && return 0
        grep ERROR "$WORK/lxc/l$1/log" | head -5 >&2
        return 1
}
lxc_stop() {
        timeout 30 lxc-stop -P "$WORK/lxc" -n "l$1" -k </dev/null >/dev/null
        rm -rf "${WORK:?}/lxc/l$1"
}

# fetch ADDRS: how many of "NAME ADDR" lines answer HTTP with NAME (10 s
# each to come up, 64 at once), as density.sh fetches
fetch() {
        timeout 120 python3 - "$1" <<'EOF'
import socket, sys, time, concurrent.futures as cf
pairs = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 2]
def fetch(p):
    name, addr = p
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            s = socket.create_connection((addr, 80), timeout=2)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            s.close()
            if data.startswith(b"HTTP/1.") and data.rstrip().endswith(name.encode()):
                return 1
        except OSError:
            pass
        time.sleep(0.2)
    return 0
with cf.ThreadPoolExecutor(64) as ex:
    print(sum(ex.map(fetch, pairs)))
EOF
}

# charged_kb RUNTIME: what the kernel charged to the memory cgroup that
# holds RUNTIME's containers (v1: hierarchical usage), kB; the figure other
# work on a shared host does not move, as density.sh's for paene's VPS
charged_kb() {
        local d
        case $1 in
        crun) d=/sys/fs/cgroup/memory$CRUN_CG ;;
        lxc) d=/sys/fs/cgroup/memory${OWN%/}/$LXC_CG ;;
        esac
        echo $(($(cat "$d/memory.usage_in_bytes") / 1024))
}

# measure RUNTIME PREFIX: starts N containers PREFIX0.. of RUNTIME (each
# start timed, with its veth), fetches them, takes the memory figures, stops
# and removes them (timed), and prints the figures
measure() {
        local rt=$1 px=$2 i t0 t1 mem0 mem1 slab0 slab1 answered tenth starts=() stops=()
        sync
        mem0=$(meminfo MemAvailable) slab0=$(slab_kb)
        slabinfo >"$WORK/slab.before"
        echo "# $rt: starting $N" >&2
        for ((i = 0; i < N; i++)); do
                now_us; t0=$REPLY
                "${rt}_start" "$i"
                now_us; t1=$REPLY
                starts+=($((t1 - t0)))
        done
        for ((i = 0; i < N; i++)); do neighbours "$rt" "$i"; done # not timed
        for ((i = 0; i < N; i++)); do echo "$px$i $(addr_of "$i")"; done >"$WORK/addrs"
        answered=$(fetch "$WORK/addrs")
        sleep 2
        mem1=$(meminfo MemAvailable) slab1=$(slab_kb)
        slabinfo >"$WORK/slab.after"
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        charged=$(charged_kb "$rt")
        # the first 100 stops timed one after another, the rest 16 at once
        # (lxc-stop -k takes about half a second: 1000 in turn are minutes)
        echo "# $rt: stopping $N" >&2
        for ((i = 0; i < N; i++)); do
                if [ "$i" -lt 100 ]; then
                        now_us; t0=$REPLY
                        "${rt}_stop" "$i"
                        now_us; t1=$REPLY
                        stops+=($((t1 - t0)))
                else
                        "${rt}_stop" "$i" &
                        [ $((i % 16)) -ne 15 ] || wait
                fi
        done
        wait
        tenth=$(((N + 9) / 10))
        echo "$rt: $N started, answered HTTP $answered of $N (load $load)"
        echo "$rt: start median (with its veth): first 10% $(printf '%s\n' "${starts[@]:0:tenth}" | median_ms) ms, last 10% $(printf '%s\n' "${starts[@]:N-tenth}" | median_ms) ms"
        awk -v m0="$mem0" -v m1="$mem1" -v s0="$slab0" -v s1="$slab1" -v n="$N" -v r="$rt" 'BEGIN {
                printf "%s: host memory per container: %.0f kB (MemAvailable), slab %.0f kB\n", r, (m0 - m1) / n, (s1 - s0) / n }'
        echo "$rt: charged to the containers' memory cgroups: $((charged / N)) kB per container"
        echo "$rt: slab caches that grew most (kB per container):"
        join -a2 -e0 -o 0,1.2,2.2 "$WORK/slab.before" "$WORK/slab.after" |
                awk -v n="$N" '$3 > $2 {printf "  %-28s %7.1f\n", $1, ($3 - $2) / n}' |
                sort -k2 -rn | head -8
        echo "$rt: stop+destroy mean $(printf '%s\n' "${stops[@]}" | awk '{s += $1} END {printf "%.2f", s / NR / 1000}') ms per container (the first ${#stops[@]}, one after another)"
}

inner() {
        trap inner_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        # LXC finds the bridge in /sys/class/net: a sysfs of this network
        # namespace on /sys, with the host's cgroup hierarchies moved onto it
        mkdir "$WORK/cgroup"
        mount --rbind /sys/fs/cgroup "$WORK/cgroup"
        mount -t sysfs sysfs /sys
        mount --move "$WORK/cgroup" /sys/fs/cgroup
        mount -t tmpfs -o size=16m paene-hide-cgroup2 /sys/fs/cgroup/unified
        ip link set lo up
        ip link add cmpbr0 address "$GW_MAC" type bridge
        ip addr add "$GW/16" dev cmpbr0
        ip link set cmpbr0 up
        case $WHICH in crun | both) measure crun c ;; esac
        case $WHICH in lxc | both) measure lxc l ;; esac
}

if [ "${1:-}" = --inner ]; then
        inner
        exit 0
fi

# ---- the outer part -----------------------------------------------------------

usage() { echo "usage: $prog N ROOTFS [crun|lxc|both]   (N 1..1000)" >&2; exit 2; }
N=${1:-}
TPL=${2:-}
WHICH=${3:-both}
case $N in '' | *[!0-9]* | 0*) usage ;; esac
[ "$N" -le 1000 ] || usage
case $WHICH in crun | lxc | both) ;; *) usage ;; esac
[ "$(id -u)" -eq 0 ] || { echo "$prog: must be run as root" >&2; exit 1; }
if [ -z "$TPL" ] || [ ! -x "$TPL/bin/busybox" ]; then echo "$prog: no busybox root at '$TPL'" >&2; exit 1; fi
[ -n "${EPOCHREALTIME:-}" ] || { echo "$prog: needs bash 5 or later" >&2; exit 1; }
for t in crun lxc-start lxc-stop lxc-info unshare nsenter python3 ip mount join; do
        command -v "$t" >/dev/null || { echo "$prog: $t missing (apt-get install crun lxc)" >&2; exit 1; }
done

WORK=
INNER_PID=
CG=paene-dcmp-$$
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

# our_cgroups: every directory this run's containers could have left
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
our_procs() { # processes of this run's containers or their monitors
        local p
        for p in /proc/[0-9]*; do
                case $({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) in
                *"$WORK/"*) echo "${p#/proc/}" ;;
                esac
        done
        return 0
}
# our_inits: busybox inits whose root is this run's shared root
our_inits() {
        local p
        for p in /proc/[0-9]*; do
                [ "$(readlink "$p/root" 2>/dev/null)" = "$WORK/rootfs" ] && echo "${p#/proc/}"
        done
        return 0
}
mounts_under() { awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }

outer_cleanup() {
        local rc=$? d pid i left=0
        set +e
        if [ -n "$INNER_PID" ] && kill -0 "$INNER_PID" 2>/dev/null; then
                kill -TERM "$INNER_PID" 2>/dev/null
                for ((i = 0; i < 600; i++)); do kill -0 "$INNER_PID" 2>/dev/null || break; sleep 0.1; done
        fi
        if [ -n "$WORK" ]; then
                for pid in $(our_procs) $(our_inits); do kill -KILL "$pid" 2>/dev/null; done
                for ((i = 0; i < 100; i++)); do [ -z "$(our_procs)$(our_inits)" ] && break; sleep 0.1; done
                for d in $(our_cgroups); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
                for d in "${MADE[@]}"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
                [ -n "$(mounts_under "$WORK")" ] || rm -rf --one-file-system "$WORK"
                [ -z "$(our_procs)$(our_inits)" ] || { echo "$prog: LEFT: processes $(our_procs) $(our_inits)" >&2; left=1; }
                [ -z "$(mounts_under "$WORK")" ] || { echo "$prog: LEFT: mounts under $WORK" >&2; left=1; }
                [ ! -e "$WORK" ] || { echo "$prog: LEFT: $WORK" >&2; left=1; }
        fi
        [ -z "$(our_cgroups)" ] || { echo "$prog: LEFT: cgroups $(our_cgroups | paste -sd' ')" >&2; left=1; }
        if [ -n "$INNER_PID" ] && kill -0 "$INNER_PID" 2>/dev/null; then
                echo "$prog: LEFT: the private namespaces' process $INNER_PID" >&2
                left=1
        fi
        [ "$left" = 1 ] || echo "# cleaned up: no crun or LXC process, cgroup, mount or directory of this run left; its network namespace (bridge, veths) went with its last process" >&2
        [ "$left" = 0 ] || [ "$rc" != 0 ] || rc=1
        exit "$rc"
}
trap outer_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d /tmp/paene-dcmp-work.XXXXXX)
chmod 0755 "$WORK" # the containers' roots traverse it
cp -a "$TPL" "$WORK/rootfs"
mkdir -p "$WORK/rootfs/proc" "$WORK/rootfs/sys" "$WORK/rootfs/dev" "$WORK/rootfs/tmp" "$WORK/b" "$WORK/crun" "$WORK/lxc"
case $(readlink "$WORK/rootfs/sbin/init") in
busybox | */busybox) ;;
*) echo "$prog: the root's /sbin/init is not its busybox" >&2; exit 1 ;;
esac
grep -q rc.local "$WORK/rootfs/etc/init.d/rcS" || { echo "$prog: the root's rcS does not run /etc/rc.local" >&2; exit 1; }
printf '#!/bin/sh\nmkdir -p /tmp/www\nhostname >/tmp/www/index.html\nhttpd -p 80 -h /tmp/www\n' >"$WORK/rootfs/etc/rc.local"
chmod 755 "$WORK/rootfs/etc/rc.local"

# one bundle per crun container (its hostname and cgroup), one config per LXC
crun spec --bundle "$WORK/b"
python3 - "$WORK" "$N" "$CRUN_CG" "$LXC_CG" <<'EOF'
import json, os, sys
work, n, crun_cg, lxc_cg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
base = json.load(open(os.path.join(work, "b", "config.json")))
base["root"] = {"path": os.path.join(work, "rootfs"), "readonly": False}
base["process"]["terminal"] = False
base["process"]["args"] = ["/sbin/init"]
base["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "size=1m"]})
for i in range(n):
    addr = "10.250.%d.%d" % (i // 250, i % 250 + 2)
    d = os.path.join(work, "b", "c%d" % i)
    os.makedirs(d)
    base["hostname"] = "c%d" % i
    base["linux"]["cgroupsPath"] = "%s/c%d" % (crun_cg, i)
    json.dump(base, open(os.path.join(d, "config.json"), "w"))
    d = os.path.join(work, "lxc", "l%d" % i)
    os.makedirs(d)
    with open(os.path.join(d, "config"), "w") as f:
        f.write("""lxc.uts.name = l%(i)d
lxc.rootfs.path = dir:%(work)s/rootfs
lxc.include = /usr/share/lxc/config/common.conf
lxc.apparmor.profile = unconfined
lxc.cgroup.relative = 1
lxc.cgroup.dir = %(cg)s/l%(i)d
lxc.init.cmd = /sbin/init
lxc.mount.entry = tmpfs tmp tmpfs nosuid,nodev,size=1m 0 0
lxc.log.file = %(work)s/lxc/l%(i)d/log
lxc.log.level = WARN
lxc.net.0.type = veth
lxc.net.0.link = cmpbr0
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.net.0.hwaddr = 02:cc:00:00:%(m1)02x:%(m2)02x
lxc.tty.max = 0
lxc.net.0.ipv4.address = %(addr)s/16
lxc.net.0.ipv4.gateway = 10.250.255.254
""" % {"i": i, "work": work, "cg": lxc_cg, "addr": addr, "m1": i // 256, "m2": i % 256})
EOF

echo "crun and LXC density, N=$N busybox containers with httpd, a veth each on a bridge; $(date -u '+%F %H:%M UTC')"
echo "machine: nproc $(nproc), kernel $(uname -r); load before $(cut -d' ' -f1-3 /proc/loadavg)"
echo "versions: $(crun --version | head -1), LXC $(lxc-start --version)"
export WORK N WHICH CRUN_CG LXC_CG OWN
unshare -m -n --propagation private bash "$0" --inner &
INNER_PID=$!
wait "$INNER_PID"
INNER_PID=
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
