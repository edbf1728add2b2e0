#!/bin/bash
# The host memory of a hosting customer's idle Debian VPS, and what a
# customer does first, timed.
#
# 1. Memory: M (default 50) default (unprivileged) VPS on the fixture with
#    openssh-server (debianlib.sh's ssh flavour: bookworm minbase,
#    systemd-sysv, dbus, procps, iproute2, cron, openssh-server), each with
#    its own network, booted until systemd is `running` with ssh and cron
#    `active`, then left idle 10 s. First one alone, then M. Two measures:
#    the drop of the host's MemAvailable (/proc/meminfo) from before the
#    first create to the idle VPS (everything they cost the host: processes,
#    page cache of their own files, kernel memory of their namespaces,
#    cgroups, veths; other work on a shared machine moves it too, so it is
#    sampled 5 times and the median taken, and again when they are
#    destroyed), the PSS of every process in their cgroups (their share of
#    the pages they map, the template's shared pages split among them) plus
#    their console keepers, and what their cgroups are charged.
# 2. With N > 0 (default 0): what tests/integration/test_customer.sh does,
#    timed: a VPS with --ram 512M --cpus 1 --diskspace 4G on the fixture,
#    apt-get install of openssh-server nginx mariadb-server cron sudo
#    through the archive relay, then N times: vsctl stop (systemd's halt;
#    vsd must report that it asked systemd and did not kill), vsctl start
#    until systemd is running with every service active, and a reboot
#    inside until the same; and the PSS of that idle VPS.
#
# It uses the test harness (tests/integration/lib.sh, debianlib.sh) for its
# private vsd, network namespace, relay and clean-up, so it needs the
# archive (or the fixtures' cache under $BUILD/cache).
#
# Usage: [BUILD=build] contrib/bench/customer.sh [M] [N]   (as root)
# Figures go to stdout (with the load: uptime), progress to stderr.
set -u
export LC_ALL=C
M=${1:-50}
N=${2:-0}
case $M in '' | *[!0-9]* | 0*) echo "usage: customer.sh [M] [N]" >&2; exit 2 ;; esac
case $N in '' | *[!0-9]*) echo "usage: customer.sh [M] [N]" >&2; exit 2 ;; esac
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
. tests/integration/lib.sh
. tests/integration/debianlib.sh
[ -n "${EPOCHREALTIME:-}" ] || { echo "customer.sh: needs bash 5" >&2; exit 1; }

trap 'teardown >&2' EXIT
setup
start_relay

echo "paene customer VPS benchmark: M=$M idle VPS, N=$N service rounds; $(date -u '+%F %H:%M UTC')"
echo "machine: nproc $(nproc), kernel $(uname -r), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo); load $(uptime | sed "s/.*load average: //")"

# ---- memory of idle VPS with sshd and cron ------------------------------------

debian_ssh_tarball || { echo "customer.sh: $DEBIAN_SKIP" >&2; exit 1; }
vs template import debssh "$DEBIAN_TARBALL" >/dev/null ||
        { echo "customer.sh: import $DEBIAN_TARBALL failed" >&2; exit 1; }
IDLE_SERVICES="ssh cron"

mem_available_kib() { # median of 5 samples, 0.2 s apart
        local i
        for i in 1 2 3 4 5; do
                awk '/^MemAvailable:/ {print $2}' /proc/meminfo
                sleep 0.2
        done | sort -n | sed -n 3p
}
pss_kib() { # PSS of the processes whose pids are on stdin
        local pid total=0 v
        while read -r pid; do
                v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
                total=$((total + ${v:-0}))
        done
        echo "$total"
}
vps_pids() { # every process in the VPS's cgroups (the first hierarchy holds them all)
        find "$(cgroup_dirs | head -1)/default" -name cgroup.procs -exec cat {} + 2>/dev/null
}
keeper_pids() { # the console keepers of this vsd
        local p
        for p in /proc/[0-9]*; do
                [ "$(cat "$p/comm" 2>/dev/null)" = vsd-console ] || continue
                tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "--root $R " && echo "${p#/proc/}"
        done
}
charged_kib() { # what the VPS's cgroups are charged, summed (page cache, kernel memory)
        vs list -j -o name,mem_bytes |
                python3 -c 'import json,sys; print(sum(v["mem_bytes"] for v in json.load(sys.stdin)) // 1024)'
}
idle_state() { vs exec "$1" -- systemctl is-system-running 2>/dev/null; }

# memory_of FIRST COUNT: boots idleFIRST.. up to COUNT VPS in all, waits
# until each runs with sshd and cron, then prints the figures of all COUNT
memory_of() {
        local first=$1 n=$2 i v
        for ((i = first; i < n; i++)); do
                vs create "idle$i" --template debssh >/dev/null &&
                        vs start "idle$i" >/dev/null ||
                        { echo "customer.sh: idle$i did not start" >&2; exit 1; }
        done
        for ((i = 0; i < n; i++)); do
                v=idle$i
                wait_for 300 '[ "$(idle_state $v)" = running ]' ||
                        { echo "customer.sh: $v: systemd '$(idle_state $v)'" >&2; exit 1; }
                vs exec "$v" -- systemctl is-active $IDLE_SERVICES >/dev/null ||
                        { echo "customer.sh: $v: not all of $IDLE_SERVICES active" >&2; exit 1; }
        done
        sleep 10 # idle: let the boots' short-lived work end
        IDLE_AVAIL=$(mem_available_kib)
        awk -v n="$n" -v drop="$((AVAIL_BEFORE - IDLE_AVAIL))" -v c="$(charged_kib)" \
                -v p="$(vps_pids | pss_kib)" -v k="$(keeper_pids | pss_kib)" \
                -v np="$(vps_pids | wc -l)" 'BEGIN {
                printf "memory, %2d idle VPS: PSS %6.1f MiB (%4.1f MiB each, %d processes each), keepers %4.1f MiB (%3.1f each); cgroups charged %6.1f MiB (%4.1f each); MemAvailable %+7.1f MiB since before the first (%+5.1f each)\n",
                        n, p / 1024, p / 1024 / n, np / n, k / 1024, k / 1024 / n, c / 1024, c / 1024 / n, -drop / 1024, -drop / 1024 / n }'
}

echo "idle VPS: systemd with $IDLE_SERVICES active in each, a network each"
sleep 5 # the import's work done
AVAIL_BEFORE=$(mem_available_kib)
memory_of 0 1
memory_of 1 "$M"
echo "load after $(uptime | sed "s/.*load average: //")"
for ((i = 0; i < M; i++)); do
        vs destroy --force "idle$i" >/dev/null
done
sleep 5
awk -v n="$M" -v back="$(($(mem_available_kib) - IDLE_AVAIL))" 'BEGIN {
        printf "memory, %2d VPS destroyed: MemAvailable %+7.1f MiB (%+5.1f each)\n", n, back / 1024, back / 1024 / n }'
[ "$N" -gt 0 ] || exit 0

# ---- the customer's services, timed -------------------------------------------

debian_template deb || { echo "customer.sh: $DEBIAN_SKIP" >&2; exit 1; }
SERVICES="ssh nginx mariadb cron"
now_ms() { local t=$EPOCHREALTIME; echo $((${t/[.,]/} / 1000)); }
state() { vs exec web1 -- systemctl is-system-running 2>/dev/null; }
ready() { [ "$(state)" = running ] && [ "$(vs exec web1 -- systemctl is-active $SERVICES | sort -u)" = active ]; }
wait_ready() { wait_for 120 ready || { echo "customer.sh: web1 not ready: $(state)" >&2; exit 1; }; }
median() { # label < ms
        sort -n | awk -v l="$1" '{ v[NR] = $1 } END {
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                printf "%-40s median %7.0f  min %7.0f  max %7.0f  (ms, n=%d)\n", l, m, v[1], v[NR], NR }'
}
pid_of() { vs status web1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }

vs create web1 --template deb --ram 512M --cpus 1 --diskspace 4G >/dev/null
vs start web1 >/dev/null
wait_for 60 '[ "$(state)" = running ]' || { echo "customer.sh: no boot" >&2; exit 1; }
gw=$(vps_gateway web1)
vs exec web1 -- sh -c "echo 'Acquire::http::Proxy \"http://$gw:$RELAY_PORT/\";' >/etc/apt/apt.conf.d/99relay"
t0=$(now_ms)
vs exec web1 -- apt-get -q update >"$R/update.log" 2>&1 &&
        vs exec web1 -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                openssh-server nginx mariadb-server cron sudo >"$R/install.log" 2>&1 ||
        { echo "customer.sh: apt failed: $(tail -n 3 "$R/install.log")" >&2; exit 1; }
t1=$(now_ms)
echo "apt-get update + install (5 packages and their dependencies): $((t1 - t0)) ms"
wait_ready

stops=() starts=() reboots=()
for ((i = 0; i < N; i++)); do
        t0=$(now_ms)
        vs stop web1 --timeout 20 >/dev/null
        t1=$(now_ms)
        how=$(vs status web1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stop"])')
        [ "$how" = "SIGRTMIN+3 to systemd" ] || { echo "customer.sh: stop $i: $how" >&2; exit 1; }
        stops+=($((t1 - t0)))
        t0=$(now_ms)
        vs start web1 >/dev/null
        wait_ready
        t1=$(now_ms)
        starts+=($((t1 - t0)))
        before=$(pid_of)
        t0=$(now_ms)
        vs exec web1 -- reboot
        wait_for 60 '[ "$(pid_of)" != "$before" ] && [ "$(pid_of)" != 0 ]' ||
                { echo "customer.sh: no reboot" >&2; exit 1; }
        wait_ready
        t1=$(now_ms)
        reboots+=($((t1 - t0)))
done
printf '%s\n' "${stops[@]}" | median "vsctl stop (systemd halt, no SIGKILL)"
printf '%s\n' "${starts[@]}" | median "vsctl start -> running, services active"
printf '%s\n' "${reboots[@]}" | median "reboot inside -> running, services active"

sleep 10 # idle: let the boot's short-lived work end
pss=0 np=0
for p in $(find "$(cgroup_dirs | head -1)/default/web1" -name cgroup.procs -exec cat {} +); do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
        pss=$((pss + ${v:-0})) np=$((np + 1))
done
charged=$(vs status web1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mem_bytes"] // 1024)')
awk -v p="$pss" -v n="$np" -v c="$charged" 'BEGIN {
        printf "memory, idle with %s: PSS %.1f MiB (%d processes); cgroup charged %.1f MiB\n",
                "sshd, nginx, MariaDB, cron", p / 1024, n, c / 1024 }'
vs destroy --force web1 >/dev/null
