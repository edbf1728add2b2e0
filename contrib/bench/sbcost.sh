#!/bin/bash
# What one more superblock and one more memory cgroup cost the host's slab
# now (issue 13): K tmpfs instances mounted in a private mount namespace,
# then K empty memory cgroups below one of the script's own; the growth of
# each slab cache (active objects times object size) per instance, and all
# removed again. Every superblock registers a memcg-aware shrinker and every
# memory cgroup keeps a slot for every shrinker id the host ever had at
# once (the kernel never shrinks that number): a new memory cgroup's
# kmalloc-1k is the host's high-water mark of superblocks / 64, in kB.
#
# Usage: contrib/bench/sbcost.sh [K]     (as root; K 1..2000, default 200)
set -euo pipefail
K=${1:-200}
case $K in '' | *[!0-9]* | 0*) echo "usage: $0 [K]  (1..2000)" >&2; exit 2 ;; esac
[ "$K" -le 2000 ] || { echo "usage: $0 [K]  (1..2000)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: run as root" >&2; exit 1; }

slabinfo() { awk 'NR > 2 {printf "%s %d\n", $1, $2 * $4}' /proc/slabinfo | sort; }
# the caches that grew most, in kB per instance
grown() { # before after
        join -a1 -a2 -e0 -o 0,1.2,2.2 "$1" "$2" |
                awk -v k="$K" '$3 > $2 {printf "  %-24s %8.2f\n", $1, ($3 - $2) / 1024 / k}' |
                sort -k2 -rn | head -6
}

work=$(mktemp -d /tmp/paene-sbcost.XXXXXX)
cg=
cleanup() {
        local i
        if [ -n "$cg" ] && [ -d "$cg" ]; then
                for ((i = 0; i < K; i++)); do rmdir "$cg/c$i" 2>/dev/null || true; done
                rmdir "$cg" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); memory cgroups on the host: $(awk '$1 == "memory" {print $3}' /proc/cgroups)"

# K tmpfs superblocks, held by a shell in its own mount namespace until it
# has read the slab, then gone with the namespace
mkdir "$work/m"
slabinfo >"$work/before"
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m --propagation private bash -c '
        for ((i = 0; i < $2; i++)); do
                mkdir "$1/m/$i" && mount -t tmpfs -o size=64k tmpfs "$1/m/$i"
        done
        awk "NR > 2 {printf \"%s %d\\n\", \$1, \$2 * \$4}" /proc/slabinfo | sort >"$1/after"' \
        _ "$work" "$K"
echo "a tmpfs superblock, kB each:"
grown "$work/before" "$work/after"

# K memory cgroups
if [ -d /sys/fs/cgroup/memory ] && [ -e /sys/fs/cgroup/memory/memory.usage_in_bytes ]; then
        cg=/sys/fs/cgroup/memory/paene-sbcost.$$
elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
        cg=/sys/fs/cgroup/paene-sbcost.$$
else
        echo "no memory cgroup hierarchy" >&2
        exit 1
fi
mkdir "$cg"
[ ! -e "$cg/cgroup.subtree_control" ] || echo +memory >"$cg/cgroup.subtree_control"
slabinfo >"$work/before"
for ((i = 0; i < K; i++)); do mkdir "$cg/c$i"; done
slabinfo >"$work/after"
echo "an empty memory cgroup, kB each:"
grown "$work/before" "$work/after"
