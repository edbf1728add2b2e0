#!/bin/bash
# paene network benchmark: the cost of one VPS's network set-up (veth pair,
# guest side moved into the VPS's namespace, addresses, routes, bridge port
# or host route, nftables elements) and teardown (its nftables elements,
# deleting the host-side veth), as vsd pays it:
# build/netbench drives netns/ from one process against N network
# namespaces. Each run happens in a network namespace made for it
# (unshare -n), which disappears with it: the host's network is not touched.
#
# Usage: [BUILD=build] contrib/bench/net.sh [N...]    (as root; default: 100 1000)
# Bridge mode runs only for N <= 1024 (a Linux bridge holds at most 1024
# ports); routed mode runs for every N.
set -euo pipefail
export LC_ALL=C

prog=net.sh
repo=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) bench=$BUILD/netbench ;;
*) bench=$repo/$BUILD/netbench ;;
esac
if [ "$(id -u)" -ne 0 ]; then
        echo "$prog: must be run as root (network namespaces, veths)" >&2
        exit 1
fi
if [ ! -x "$bench" ]; then
        echo "$prog: $bench not found; build it first: make $BUILD/netbench" >&2
        exit 1
fi
[ "$#" -gt 0 ] || set -- 100 1000
for n in "$@"; do
        case $n in
        '' | *[!0-9]* | 0*) echo "usage: $prog [N...]   (N: number of VPS, 1..10000)" >&2; exit 2 ;;
        esac
        [ "$n" -le 10000 ] || { echo "usage: $prog [N...]   (N: 1..10000)" >&2; exit 2; }
done

# NFT_SETUP / NFT_TEARDOWN: the share of the nftables elements (anti-spoofing
# and one port forward) in PER_VPS, in ms
printf '%-7s %6s %12s %10s %15s %13s %10s %13s\n' MODE N SETUP_MS PER_VPS TEARDOWN_MS PER_VPS \
        NFT_SETUP NFT_TEARDOWN
for n in "$@"; do
        for mode in bridge routed; do
                if [ "$mode" = bridge ] && [ "$n" -gt 1024 ]; then
                        continue
                fi
                # a namespace of its own per run: ends with netbench
                out=$(timeout 1800 unshare -n "$bench" "$n" "$mode")
                read -r m count setup per_setup teardown per_teardown nft_setup nft_teardown <<<"$out"
                printf '%-7s %6s %12s %10s %15s %13s %10s %13s\n' "$m" "$count" "$setup" \
                        "$per_setup" "$teardown" "$per_teardown" "$nft_setup" "$nft_teardown"
        done
done
