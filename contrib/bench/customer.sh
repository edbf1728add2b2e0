#!/bin/bash
# What tests/integration/test_customer.sh does, timed: a default VPS with
# --ram 512M --cpus 1 --diskspace 4G on the Debian fixture, apt-get install
# of openssh-server nginx mariadb-server cron sudo through the archive
# relay, then N times: vsctl stop (systemd's halt; vsd must report that it
# asked systemd and did not kill), vsctl start until systemd is running with
# every service active, and a reboot inside until the same; and the host
# memory (PSS) of the idle VPS with its services.
#
# It uses the test harness (tests/integration/lib.sh, debianlib.sh) for its
# private vsd, network namespace, relay and clean-up, so it needs the
# archive (or the fixture's cache under $BUILD/cache).
#
# Usage: [BUILD=build] contrib/bench/customer.sh [N]   (as root; N default 5)
# Figures go to stdout, progress to stderr.
set -u
export LC_ALL=C
N=${1:-5}
case $N in '' | *[!0-9]* | 0*) echo "usage: customer.sh [N]" >&2; exit 2 ;; esac
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
. tests/integration/lib.sh
. tests/integration/debianlib.sh
[ -n "${EPOCHREALTIME:-}" ] || { echo "customer.sh: needs bash 5" >&2; exit 1; }

trap 'teardown >&2' EXIT
setup
start_relay
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

echo "paene customer VPS benchmark: N=$N; nproc $(nproc), kernel $(uname -r)"
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
