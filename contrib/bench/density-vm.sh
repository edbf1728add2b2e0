#!/bin/bash
# density-vm.sh N [routed|bridge]: density.sh as the only work of a
# throwaway machine, with the kernel's memory per VPS attributed.
#
# Meant as the command of the pure cgroup v2 VM (v2vm.sh, whose guest is
# named v2vm; anywhere else it refuses unless DENSITY_VM_FORCE=1), where
# nothing else runs, so MemAvailable moves only with what the run makes,
# and the kernel is freshly booted, so its high-water mark of shrinker ids
# (shrinker_nr_max, which sizes every memory cgroup's shrinker maps and
# never goes down) is the run's own:
#
#   V2VM_MEM=8G V2VM_SMP=1 v2vm.sh "$PWD" \
#       'DENSITY_VM_OUT=build/vm/run1 PAENE_TIME_SCALE=20 contrib/bench/density-vm.sh 1000'
#
# It fallocates an image on /dev/shm (DENSITY_VM_DISK, 1G by default: all
# its pages are taken before the figures, so the writes of the run do not
# move MemAvailable), makes ext4 on it (no discard, no lazy init) and mounts it over /tmp, where
# density.sh puts its state root and so the VPS's upper layers (overlayfs
# takes no 9p upper dir); then runs density.sh with every per-VPS dump into
# DENSITY_VM_OUT (density.out, density.err, slab, meminfo, memstat,
# starts) and writes env, with the shrinker ids and memory cgroups before
# and after and what the shrinker maps take by the kernel's layout.
set -euo pipefail
export LC_ALL=C
prog=density-vm.sh
N=${1:-}
MODE=${2:-routed}
OUT=${DENSITY_VM_OUT:-}
if [ -z "$N" ] || [ -z "$OUT" ]; then
        echo "usage: DENSITY_VM_OUT=DIR $prog N [routed|bridge]" >&2
        exit 2
fi
[ "$(hostname)" = v2vm ] || [ "${DENSITY_VM_FORCE:-}" = 1 ] || {
        echo "$prog: mounts over /tmp: only in a throwaway VM (hostname v2vm), or DENSITY_VM_FORCE=1" >&2
        exit 2
}
here=$(cd "$(dirname "$0")" && pwd)
# v2vm.sh's guest has no /dev/fd, which bash's process substitutions need
# (lib.sh's clean-up has one)
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

img=/dev/shm/density-vm.img
# mkfs must neither discard (that gives the fallocated pages back, and the
# image then grows as the run writes: 117 kB of Shmem per VPS in the first
# run) nor leave the inode tables and the journal to be zeroed later; env
# has the image's allocated size before and after, which must not change
fallocate -l "${DENSITY_VM_DISK:-1G}" "$img"
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$img"
fallocate -l "${DENSITY_VM_DISK:-1G}" "$img" # what mkfs punched out of it when zeroing
loop=$(losetup --find --show "$img")
mount "$loop" /tmp
chmod 1777 /tmp
# shellcheck disable=SC2317 # the EXIT trap
done_vm() {
        cd /
        umount /tmp || umount -l /tmp
        losetup -d "$loop"
        rm -f "$img"
}
trap done_vm EXIT

ids() { python3 "$here/kvar.py" shrinker_nr_max 2>/dev/null | awk '{print $2}'; }
memcgs() { awk '$1 == "memory" {print $3}' /proc/cgroups; }
{
        echo "kernel $(uname -r), nproc $(nproc), $(awk '$1 == "MemTotal:" {print $2}' /proc/meminfo) kB"
        echo "uptime at the start: $(cut -d' ' -f1 /proc/uptime) s"
        echo "before: shrinker ids $(ids), memory cgroups $(memcgs), image $(du -k "$img" | cut -f1) kB"
} >"$OUT/env"

# the figures on stdout and in density.out, the progress in density.err (the
# guest has no /dev/fd for a process substitution)
set +e
DENSITY_SLAB=$OUT/slab DENSITY_MEMINFO=$OUT/meminfo DENSITY_MEMSTAT=$OUT/memstat \
        DENSITY_STARTS=$OUT/starts bash "$here/density.sh" "$N" "$MODE" 2>"$OUT/density.err" |
        tee "$OUT/density.out"
rc=${PIPESTATUS[0]}
set -e

nr=$(ids)
{
        echo "after: shrinker ids $nr, memory cgroups $(memcgs), image $(du -k "$img" | cut -f1) kB"
        echo "uptime at the end: $(cut -d' ' -f1 /proc/uptime) s"
        # before 6.8 a memory cgroup's shrinker maps are one block per node
        # (mm/vmscan.c alloc_shrinker_info): a header of 32 bytes, a counter
        # of 8 bytes and a bit per id, the ids rounded up to 64; above 8 kB
        # SLUB takes it from the page allocator, rounded up to a power of
        # two of pages (counted in Slab, in no cache of /proc/slabinfo)
        case $nr in '' | -) ;; *)
                awk -v nr="$nr" -v pg="$(getconf PAGESIZE)" 'BEGIN {
                        r = int((nr + 63) / 64) * 64
                        b = 32 + 8 * r + r / 8
                        if (b > 2 * pg) { a = pg; while (a < b) a *= 2 } else { a = 8; while (a < b) a *= 2 }
                        printf "shrinker maps by the layout before 6.8: %d bytes, allocated %d, per memory cgroup and node\n", b, a }'
                ;;
        esac
} >>"$OUT/env"
cat "$OUT/env"
exit "$rc"
