#!/bin/bash
# paene density benchmark (issue 13): N busybox VPS, each running httpd on
# its own address, fetched from vsd's network namespace.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own
# network namespace, vsd.conf with the mode asked and a /16 pool), builds
# the busybox template, creates N VPS d0..d(N-1) whose /etc/rc.local starts
# `httpd -p 80` serving the VPS's hostname, starts them one after another
# (each `vsctl start` timed), fetches every address from vsd's namespace
# and checks the body, then prints: created and running, `vsctl list` count
# and time, how many answered, the start median of the first and last 10%
# (and vsd's CPU per start over them),
# host memory (MemAvailable) and slab per VPS with the slab caches that grew
# most (and the slab outside every cache, and the kernel's shrinker ids
# where /proc/kcore shows them), vsd's RSS and descriptors, stop+destroy per VPS, and what is left
# after (links, mounts, cgroups, loop devices, nft elements: all zero). A
# trap removes everything on any failure or interruption.
#
# Usage: [BUILD=build] [DENSITY_PTY_MAX=M] [PAENE_TIME_SCALE=S] contrib/bench/density.sh N [routed|bridge] [compare]
#        (as root; N 1..8192, mode routed by default; compare: then N crun
#        and N LXC containers from the same template root, by
#        density-compare.sh, after vsd has stopped; N at most 1000 then;
#        PAENE_TIME_SCALE: how many times slower than a plain host this
#        machine is, as for the tests: multiplies the script's own bounds)
# DENSITY_STARTS, DENSITY_SLAB, DENSITY_MEMINFO, DENSITY_MEMSTAT=FILE and
# DENSITY_PERF=DIR keep more (below; contrib/bench/README.md). Figures go to
# stdout; progress and the clean-up report go to stderr.
set -euo pipefail
export LC_ALL=C

prog=density.sh
tag=density
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"

usage() { echo "usage: $prog N [routed|bridge] [compare]   (N: number of VPS, 1..8192; 1..1000 with compare)" >&2; exit 2; }
N=${1:-}
MODE=${2:-routed}
COMPARE=${3:-}
case $N in '' | *[!0-9]* | 0*) usage ;; esac
[ "$N" -le 8192 ] || usage
case $MODE in routed | bridge) ;; *) usage ;; esac
case $COMPARE in '') ;; compare) [ "$N" -le 1000 ] || usage ;; *) usage ;; esac
require_root "sudo contrib/bench/density.sh $N $MODE"
SCALE=${PAENE_TIME_SCALE:-1}
case $SCALE in '' | *[!0-9]* | 0*) echo "$prog: PAENE_TIME_SCALE '$SCALE' is not a whole number from 1" >&2; exit 2 ;; esac
[ -n "${EPOCHREALTIME:-}" ] || { echo "$prog: needs bash 5 or later" >&2; exit 1; }
find_binaries
require_tools unshare nsenter timeout mktemp awk sort python3 ip nft losetup
install_traps

# Every running VPS holds a pty of the host's for its console, and the kernel
# hands out at most kernel.pty.max - 1 of them. DENSITY_PTY_MAX=M raises
# kernel.pty.max to M for this run (the trap puts the old value back); without
# it the script says up front how many VPS can start.
PTY_MAX_WAS=
pty_max() { cat /proc/sys/kernel/pty/max; }
restore_host() {
        [ -z "$PTY_MAX_WAS" ] || { echo "$PTY_MAX_WAS" >/proc/sys/kernel/pty/max &&
                echo "# kernel.pty.max back to $PTY_MAX_WAS" >&2; }
}
if [ -n "${DENSITY_PTY_MAX:-}" ] && [ "$DENSITY_PTY_MAX" -gt "$(pty_max)" ]; then
        PTY_MAX_WAS=$(pty_max)
        echo "$DENSITY_PTY_MAX" >/proc/sys/kernel/pty/max
        echo "# kernel.pty.max raised from $PTY_MAX_WAS to $DENSITY_PTY_MAX for this run" >&2
fi
ptys_free=$(($(pty_max) - 1 - $(cat /proc/sys/kernel/pty/nr)))
[ "$N" -le "$ptys_free" ] ||
        echo "# only $ptys_free ptys are free (kernel.pty.max = $(pty_max)): at most $ptys_free VPS can start; DENSITY_PTY_MAX=M raises it for the run" >&2

in_vsd_net() { nsenter --net="/proc/$VSD_PID/ns/net" "$@"; }
meminfo() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; } # kB
slab_kb() { echo $(($(meminfo SReclaimable) + $(meminfo SUnreclaim))); }
# slab caches: name and kB (active objects times object size)
slabinfo() { awk 'NR > 2 {printf "%s %d\n", $1, $2 * $4 / 1024}' /proc/slabinfo | sort; }
# the pages of all slab caches (kB): Slab in /proc/meminfo less this is what
# the kernel counts as slab outside any cache, its large kmallocs (above 8 kB
# on SLUB: on kernels before 6.8 every memory cgroup's shrinker maps, one
# block of 8 bytes a shrinker id, are one once the ids pass about a thousand)
slab_cache_kb() { awk -v pg="$(getconf PAGESIZE)" 'NR > 2 {k += $15 * $6 * pg / 1024} END {printf "%d\n", k}' /proc/slabinfo; }
# the most shrinker ids the kernel ever had at once (it never lowers it), and
# so the size of every new memory cgroup's shrinker maps; "-" where
# /proc/kcore or the symbol is not there
shrinker_nr_max() { python3 "$(dirname "$0")/kvar.py" shrinker_nr_max 2>/dev/null | awk '{print $2}'; }
# vsd's CPU time and that of its children it reaped (the builders and
# what they forked), in clock ticks: what a start costs vsd, less moved by
# other work on the host than the start's time
vsd_cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$VSD_PID/stat"; }

# ---- set-up -----------------------------------------------------------------

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# vsd's leaf cgroup's memory.stat on pure v2 (nothing elsewhere)
memstat_vsd() {
        local d
        for d in $(cgroup_dirs); do
                [ ! -e "$d/vsd/memory.stat" ] || cat "$d/vsd/memory.stat"
        done
}
# every memory cgroup of the host keeps a slot per superblock in its
# shrinker maps (kmalloc-1k): how many there are moves the slab per VPS
memcgs() { awk '$1 == "memory" {print $3}' /proc/cgroups; }
memcgs_start=$(memcgs)
phase="making the private root"
make_root
mkdir -p "$ROOT/etc/paene"
printf 'network_mode = %s\npool4 = 10.200.0.0/16\n' "$MODE" >"$ROOT/etc/paene/vsd.conf"
phase="starting vsd"
start_vsd
phase="building the template"
timeout $((300 * SCALE)) "$VSCTL" template build busybox </dev/null >/dev/null

sync
mem0=$(meminfo MemAvailable)
cp /proc/meminfo "$ROOT/meminfo.before"
slab0=$(slab_kb)
cache0=$(slab_cache_kb)
slabinfo >"$ROOT/slab.before"
memstat_vsd >"$ROOT/vsd.stat.before"

phase="creating $N VPS"
echo "# vsd pid $VSD_PID on $ROOT; creating $N VPS ($MODE)" >&2
created=0
for ((i = 0; i < N; i++)); do
        if ! out=$(timeout $((60 * SCALE)) "$VSCTL" create "d$i" --template busybox </dev/null 2>&1); then
                echo "# create d$i: $out" >&2
                break
        fi
        up=$ROOT/var/lib/paene/vps/d$i/upper
        mkdir -p "$up/etc"
        printf '#!/bin/sh\nmkdir -p /tmp/www\nhostname >/tmp/www/index.html\nhttpd -p 80 -h /tmp/www\n' \
                >"$up/etc/rc.local"
        chmod 755 "$up/etc/rc.local"
        created=$((created + 1))
        [ $((created % 512)) -ne 0 ] || echo "# $created created, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done

# DENSITY_PERF=DIR: perf records vsd and what it forks (CPU time with call
# graphs, and the kernel's 1 kB allocations) during the first and the last
# 10% of the starts, into DIR/first.data and DIR/last.data: what grows with N
perf_pid=
perf_start() {
        [ -n "${DENSITY_PERF:-}" ] || return 0
        perf record -q -g -e cpu-clock -e kmem:kmalloc --filter 'bytes_alloc == 1024' \
                -p "$VSD_PID" -o "$DENSITY_PERF/$1.data" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 1
}
perf_stop() {
        [ -n "$perf_pid" ] || return 0
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        perf_pid=
}

phase="starting $created VPS"
starts=()
tenth=$(((created + 9) / 10))
for ((i = 0; i < created; i++)); do
        [ "$i" -ne 0 ] || perf_start first
        [ "$i" -ne "$tenth" ] || perf_stop
        [ "$i" -ne $((created - tenth)) ] || perf_start last
        [ "$i" -ne 0 ] || cpu_first0=$(vsd_cpu_ticks)
        [ "$i" -ne "$tenth" ] || cpu_first1=$(vsd_cpu_ticks)
        [ "$i" -ne $((created - tenth)) ] || cpu_last0=$(vsd_cpu_ticks)
        now_us; t0=$REPLY
        if ! out=$("$VSCTL" start "d$i" </dev/null 2>&1); then
                echo "# start d$i: $out" >&2
                break
        fi
        now_us; t1=$REPLY
        starts+=($((t1 - t0)))
        [ $(((i + 1) % 512)) -ne 0 ] || echo "# $((i + 1)) started, the last $((t1 - t0)) us, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
cpu_last1=$(vsd_cpu_ticks)
perf_stop
started=${#starts[@]}
# DENSITY_STARTS=FILE: every start's time in us, one a line, in order
[ -z "${DENSITY_STARTS:-}" ] || printf '%s\n' "${starts[@]}" >"$DENSITY_STARTS"

phase="fetching"
"$VSCTL" list -H -o name,ip </dev/null | awk '{split($2, a, "/"); print $1, a[1]}' >"$ROOT/addrs"
running=$(wc -l <"$ROOT/addrs")
# every httpd gets 10 s to come up; a fetch is tried until then, 64 at once
answered=$(in_vsd_net timeout $((120 * SCALE)) python3 - "$ROOT/addrs" "$SCALE" <<'EOF'
import socket, sys, time, concurrent.futures as cf
pairs = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 2]
scale = int(sys.argv[2])
def fetch(p):
    name, addr = p
    deadline = time.time() + 10 * scale
    while time.time() < deadline:
        try:
            s = socket.create_connection((addr, 80), timeout=2 * scale)
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
)

sleep 2
load_measured=$(cut -d' ' -f1-3 /proc/loadavg)
mem1=$(meminfo MemAvailable)
# DENSITY_MEMINFO=FILE: every /proc/meminfo field's change per VPS (kB)
[ -z "${DENSITY_MEMINFO:-}" ] || awk -v n="$running" 'NR == FNR {v[$1] = $2; next}
        n {printf "%-18s %9.1f\n", $1, ($2 - v[$1]) / n}' "$ROOT/meminfo.before" /proc/meminfo \
        >"$DENSITY_MEMINFO"
slab1=$(slab_kb)
cache1=$(slab_cache_kb)
slabinfo >"$ROOT/slab.after"
memcgs_measured=$(memcgs)
# DENSITY_SLAB=FILE: every slab cache's change per VPS (kB), largest first
[ -z "${DENSITY_SLAB:-}" ] || join -a1 -a2 -e0 -o 0,1.2,2.2 "$ROOT/slab.before" "$ROOT/slab.after" |
        awk -v n="$running" 'n && $3 != $2 {printf "%-28s %8.1f\n", $1, ($3 - $2) / n}' |
        sort -k2 -rn >"$DENSITY_SLAB"
vsd_rss=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$VSD_PID/status")
# the console keepers of our vsd: processes, PSS and page tables (kB)
keepers=$(for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null)" = vsd-console ] || continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "--root $ROOT " || continue
        pss=$(awk '$1 == "Pss:" {print $2}' "$p/smaps_rollup" 2>/dev/null)
        pte=$(awk '$1 == "VmPTE:" {print $2}' "$p/status" 2>/dev/null)
        echo "${pss:-0} ${pte:-0}"
done | awk '{n++; pss += $1; pte += $2} END {printf "%d %d %d", n, pss, pte}')
# what the kernel charged to the VPS's memory cgroups (their pages, kernel
# memory and slab of theirs; not vsd's, the keepers' or uncharged slab). On
# v1 vsd's own cgroup is outside $CG; on pure v2 vsd (and its keeper and
# reaper) sit in the leaf $CG/vsd, which is left out
charged_kb() {
        local d
        for d in $(cgroup_dirs); do
                if [ -e "$d/memory.usage_in_bytes" ]; then
                        echo $(($(cat "$d/memory.usage_in_bytes") / 1024))
                        return 0
                elif [ -e "$d/memory.current" ]; then
                        echo $((($(cat "$d/memory.current") - $(cat "$d/vsd/memory.current" 2>/dev/null || echo 0)) / 1024))
                        return 0
                fi
        done
        echo 0
}
charged=$(charged_kb)
# DENSITY_MEMSTAT=FILE: the VPS's memory cgroups' memory.stat, per VPS (the
# byte counts in kB): on v2 the sum over $CG's slices (not vsd's leaf), on v1
# the hierarchical total_ lines of $CG
memstat_per_vps() {
        local d f
        for d in $(cgroup_dirs); do
                if [ -e "$d/memory.current" ]; then
                        for f in "$d"/*/memory.stat; do
                                [ "$f" = "$d/vsd/memory.stat" ] || cat "$f"
                        done
                        return 0
                elif [ -e "$d/memory.stat" ]; then
                        awk '$1 ~ /^total_/ {sub(/^total_/, "", $1); print}' "$d/memory.stat"
                        return 0
                fi
        done
}
# and DENSITY_MEMSTAT.vsd the growth of vsd's leaf's on v2 over the run, per
# VPS (vsd, its builders, keeper and reaper: what they make for the VPS is
# charged there)
per_vps_stat() { # [BEFORE]: less BEFORE's figures
        awk -v n="$running" -v before="${1:-}" '
        BEGIN {while (before != "" && (getline line < before) > 0) {split(line, a, " "); v[a[1]] -= a[2]}}
        {v[$1] += $2; if (!($1 in seen)) {seen[$1] = 1; order[++k] = $1}}
        END {for (i = 1; i <= k; i++) {f = order[i]
                if (f ~ /^(pg|workingset_|thp_|nr_|hierarchical_)/ || f ~ /_(events|fault|scan|steal|activate|deactivate|lazyfree|refault)/)
                        printf "%-26s %10.1f\n", f, n ? v[f] / n : 0
                else printf "%-26s %10.1f kB\n", f, n ? v[f] / n / 1024 : 0 }}'
}
[ -z "${DENSITY_MEMSTAT:-}" ] || {
        memstat_per_vps | per_vps_stat >"$DENSITY_MEMSTAT"
        memstat_vsd | per_vps_stat "$ROOT/vsd.stat.before" >"$DENSITY_MEMSTAT.vsd"
}
# the template's busybox code over every running VPS's init: one copy?
text=$("$VSCTL" list -H -o pid </dev/null | grep -v '^-$' | python3 "$(dirname "$0")/text-frames.py")
vsd_fds=$(find "/proc/$VSD_PID/fd" -mindepth 1 | wc -l)

list_times=()
for ((i = 0; i < 10; i++)); do
        now_us; t0=$REPLY
        listed=$("$VSCTL" list -H -o name </dev/null | wc -l)
        now_us; t1=$REPLY
        list_times+=($((t1 - t0)))
done

# the round trip alone, for scale: a request that changes nothing
status_times=()
for ((i = 0; i < 10; i++)); do
        now_us; t0=$REPLY
        "$VSCTL" status d0 </dev/null >/dev/null 2>&1 || true
        now_us; t1=$REPLY
        status_times+=($((t1 - t0)))
done

phase="stopping and destroying $created VPS"
stops=() destroys=()
for ((i = 0; i < created; i++)); do
        now_us; t0=$REPLY
        "$VSCTL" stop --fast "d$i" </dev/null >/dev/null 2>&1 || true
        now_us; t1=$REPLY
        "$VSCTL" destroy "d$i" </dev/null >/dev/null
        now_us; t2=$REPLY
        stops+=($((t1 - t0))) destroys+=($((t2 - t1)))
done

# ---- figures ----------------------------------------------------------------

tenth=$(((started + 9) / 10))
echo "paene density, N=$N busybox VPS with httpd, $MODE mode"
echo "machine: nproc $(nproc), kernel $(uname -r)"
echo "load average: $load_start at the start, $load_measured at the memory figures, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "memory cgroups on the host: $memcgs_start at the start, $memcgs_measured at the memory figures"
echo "created $created, started $started, running $running"
echo "vsctl list: $listed listed, median $(printf '%s\n' "${list_times[@]}" | median_ms) ms (10 runs)"
echo "answered HTTP: $answered of $running"
if [ "$started" -gt 0 ]; then
        first=$(printf '%s\n' "${starts[@]:0:tenth}" | median_ms)
        last=$(printf '%s\n' "${starts[@]:started-tenth}" | median_ms)
        echo "start median: first 10% $first ms, last 10% $last ms"
        # stamped at the tenths of the creates: all must have started
        [ "$started" -ne "$created" ] ||
                awk -v f="$((cpu_first1 - cpu_first0))" -v l="$((cpu_last1 - cpu_last0))" \
                        -v n="$tenth" -v hz="$(getconf CLK_TCK)" 'BEGIN {
                printf "vsd CPU per start (with its reaped children): first 10%% %.2f ms, last 10%% %.2f ms\n",
                        f * 1000 / hz / n, l * 1000 / hz / n }'
fi
awk -v m0="$mem0" -v m1="$mem1" -v s0="$slab0" -v s1="$slab1" -v n="$running" 'BEGIN {
        if (n) printf "host memory per VPS: %.0f kB (MemAvailable), slab %.0f kB\n", (m0 - m1) / n, (s1 - s0) / n }'
awk -v s0="$slab0" -v s1="$slab1" -v c0="$cache0" -v c1="$cache1" -v n="$running" -v ids="$(shrinker_nr_max)" 'BEGIN {
        if (n) printf "slab per VPS: %.0f kB in the caches (their pages), %.0f kB outside them (large kmallocs); shrinker ids: %s\n",
                (c1 - c0) / n, ((s1 - c1) - (s0 - c0)) / n, ids == "" ? "-" : ids }'
read -r k_n k_pss k_pte <<<"$keepers"
awk -v n="$running" -v c="$charged" -v kn="$k_n" -v kp="$k_pss" -v kt="$k_pte" 'BEGIN {
        if (n) printf "charged to the VPS memory cgroups: %.0f kB per VPS; console keepers: %d processes, PSS %d kB, page tables %d kB (%.1f kB per VPS)\n", c / n, kn, kp, kt, (kp + kt) / n }'
read -r t_n t_one t_sum t_frames <<<"$text"
echo "busybox code in the page cache: RSS of one init $t_one kB, summed over $t_n inits $t_sum kB, in $t_frames kB of distinct page frames"
echo "slab caches that grew most (kB per VPS):"
join -a2 -e0 -o 0,1.2,2.2 "$ROOT/slab.before" "$ROOT/slab.after" |
        awk -v n="$running" 'n && $3 > $2 {printf "  %-28s %7.1f\n", $1, ($3 - $2) / n}' |
        sort -k2 -rn | head -12
echo "vsd: RSS $vsd_rss kB, $vsd_fds descriptors"
echo "vsctl status (the round trip): median $(printf '%s\n' "${status_times[@]}" | median_ms) ms"
if [ "$created" -gt 0 ]; then
        echo "stop --fast median $(printf '%s\n' "${stops[@]}" | median_ms) ms, destroy median $(printf '%s\n' "${destroys[@]}" | median_ms) ms," \
                "stop+destroy mean $(printf '%s\n' "${stops[@]}" "${destroys[@]}" | awk -v n="$created" '{s += $1} END {printf "%.2f", s / n / 1000}') ms per VPS"
fi

# what is left (the reaper deletes links off the reply path: given 30 s, scaled)
phase="checking what is left"
for ((i = 0; i < 300 * SCALE; i++)); do
        links=$(in_vsd_net ip -o link show | awk -F': ' '$2 ~ /^vs[ix]?-/' | wc -l)
        [ "$links" -eq 0 ] && break
        sleep 0.1
done
mounts=$(awk -v r="$ROOT/var/lib/paene/vps" 'index($5, r) == 1' /proc/self/mountinfo | wc -l)
cgroups=$(for d in $(cgroup_dirs); do find "$d" -mindepth 2 -type d; done | wc -l)
loops=$(losetup -n -l -O BACK-FILE | awk -v r="$ROOT" 'index($1, r) == 1' | wc -l)
elements=$(in_vsd_net nft -j list ruleset | python3 -c '
import json, sys
n = 0
for o in json.load(sys.stdin)["nftables"]:
    s = o.get("set") or o.get("map")
    if s:
        n += len(s.get("elem", []))
print(n)')
echo "left after: links $links, mounts $mounts, cgroups $cgroups, loop devices $loops, nft elements $elements"

phase="stopping vsd"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }
if [ -n "$COMPARE" ]; then
        phase="crun and LXC"
        bash "$(dirname "$0")/density-compare.sh" "$N" "$ROOT/var/lib/paene/templates/busybox/rootfs"
fi
phase="done"
