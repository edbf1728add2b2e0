#!/bin/bash
# paene network throughput benchmark: iperf3 (TCP, one stream) over the paths
# a VPS's traffic takes, against the same over loopback in one namespace:
#   loopback      client and server in one fresh network namespace, over lo
#   host -> VPS   client in vsd's namespace (the host's place), server in a VPS
#   VPS -> VPS    client in one VPS, server in another
# The VPS run on a private vsd (own root, cgroup name and network namespace,
# see ../lib.sh) in the given network mode. iperf3 runs in the VPS's network
# namespace (nsenter --net on its init), not in its root: the busybox
# template has no iperf3, and the network path (eth0, the veth pair, the
# bridge or the host routes) is the VPS's own either way.
#
# Usage: [BUILD=build] contrib/bench/throughput.sh [SECONDS] [bridge|routed]
#        (as root; SECONDS per run, default 5; mode default bridge)
set -euo pipefail
export LC_ALL=C

prog=throughput.sh
tag=tput
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

SECS=${1:-5}
MODE=${2:-bridge}
case $SECS in
'' | *[!0-9]* | 0*) echo "usage: $prog [SECONDS] [bridge|routed]" >&2; exit 2 ;;
esac
case $MODE in
bridge | routed) ;;
*) echo "usage: $prog [SECONDS] [bridge|routed]" >&2; exit 2 ;;
esac
require_root "sudo make bench-net"
find_binaries
require_tools iperf3 nsenter unshare timeout python3 ip

SERVERS=() # iperf3 servers this script started, ended by pid at exit
LO_NS=     # the loopback baseline's namespace, pinned on this file

end_servers() {
        local pid
        for pid in "${SERVERS[@]}"; do
                kill "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
        done
}
end_lo_ns() {
        if [ -n "$LO_NS" ]; then
                umount "$LO_NS" 2>/dev/null || true
                rm -f "$LO_NS"
        fi
}
install_traps
trap 'end_servers; end_lo_ns; cleanup' EXIT

# measure NETNS-OF-SERVER NETNS-OF-CLIENT ADDRESS: Gbit/s of one iperf3 run
measure() {
        local server_ns=$1 client_ns=$2 addr=$3 port=$((5201 + ${#SERVERS[@]})) json gbits i
        nsenter --net="$server_ns" iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
        SERVERS+=($!)
        # the server may not listen yet: retry the client, bounded
        for ((i = 0; i < 50; i++)); do
                json=$(nsenter --net="$client_ns" timeout $((SECS + 30)) \
                        iperf3 -c "$addr" -p "$port" -t "$SECS" -J 2>/dev/null) || true
                if gbits=$(python3 -c 'import json,sys; print("%.2f" % (json.loads(sys.argv[1])["end"]["sum_received"]["bits_per_second"] / 1e9))' "$json" 2>/dev/null); then
                        echo "$gbits"
                        return 0
                fi
                sleep 0.1
        done
        echo "$prog: iperf3 to $addr failed: $(echo "$json" | grep -m1 '"error"')" >&2
        return 1
}

# the VPS's first IPv4 address and its init's network namespace
addr_of() { "$VSCTL" status --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ip"].split()[0].split("/")[0])'; }
netns_of() { echo "/proc/$("$VSCTL" status --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')/ns/net"; }

private_vsd_with_busybox "network_mode = $MODE"
phase="creating the VPS"
for v in tput0 tput1; do
        timeout 60 "$VSCTL" create "$v" --template busybox </dev/null >/dev/null
        timeout 60 "$VSCTL" start "$v" </dev/null >/dev/null
done

echo "paene network throughput: iperf3, TCP, one stream, $SECS s per run, $MODE mode"
echo "machine: nproc $(nproc), kernel $(uname -r), MTU 1500"
phase="loopback"
LO_NS=$(mktemp "/tmp/paene-tput-lo.XXXXXX")
# a namespace of its own for the baseline, pinned on a file for nsenter
unshare --net="$LO_NS" ip link set lo up
lo=$(measure "$LO_NS" "$LO_NS" 127.0.0.1)
end_lo_ns
LO_NS=
phase="host to VPS"
h2v=$(measure "$(netns_of tput1)" "/proc/$VSD_PID/ns/net" "$(addr_of tput1)")
phase="VPS to VPS"
v2v=$(measure "$(netns_of tput1)" "$(netns_of tput0)" "$(addr_of tput1)")
printf '%-12s %8s Gbit/s\n' loopback "$lo" "host->VPS" "$h2v" "VPS->VPS" "$v2v"
python3 -c 'import sys; lo, a, b = map(float, sys.argv[1:]); print("host->VPS %.0f%% of loopback, VPS->VPS %.0f%% of loopback" % (100 * a / lo, 100 * b / lo))' "$lo" "$h2v" "$v2v"

phase="tear-down"
for v in tput0 tput1; do
        timeout 60 "$VSCTL" destroy --force "$v" </dev/null >/dev/null
done
phase="stopping vsd"
stop_vsd || { echo "$prog: vsd $VSD_PID did not exit" >&2; exit 1; }
phase="done"
