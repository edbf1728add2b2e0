#!/bin/bash
# What it costs a migration's target to put a round on disk: GNU tar
# extracts a tree of FILES files (SIZE_MB in all, random bytes) into a
# fresh directory, then either every file and directory is fsync'd one by
# one (coreutils sync FILE..., what a tar with a per-file fsync would do)
# or the file system is synced once (sync -f, syncfs(2), what the target's
# round fork does). Each way runs ROUNDS times, interleaved, after a sync
# that leaves nothing else dirty of ours; printed: the median of each.
# The extraction itself is not timed, only the making durable.
#
# Needs no root and touches nothing but a directory under DIR (default:
# a new one in /tmp, on the file system the state roots of the tests use),
# removed at the end.
#
# Usage: contrib/bench/migrate-sync.sh [SIZE_MB [FILES [ROUNDS]]]
#        (defaults 256, 2000, 3)
set -euo pipefail
export LC_ALL=C

SIZE=${1:-256}
FILES=${2:-2000}
ROUNDS=${3:-3}
case $SIZE$FILES$ROUNDS in '' | *[!0-9]*)
        echo "usage: migrate-sync.sh [SIZE_MB [FILES [ROUNDS]]]" >&2
        exit 2
        ;;
esac
work=$(mktemp -d "${DIR:-/tmp}/paene-msync.XXXXXX")
trap 'rm -rf "$work"' EXIT

# the source tree: FILES files in directories of 100, and its tar
mkdir "$work/src"
per=$((SIZE * 1024 / FILES)) # KiB a file
for ((i = 0; i < FILES; i++)); do
        d=$work/src/d$((i / 100))
        [ -d "$d" ] || mkdir "$d"
        head -c "$((per * 1024))" /dev/urandom >"$d/f$i"
done
tar -C "$work/src" -cf "$work/round.tar" .
rm -rf "$work/src"

now() { date +%s.%N; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

one() { # way n: extracts, then times the way's making durable
        local out=$work/x$2 t0 t1
        sync -f "$work"
        mkdir "$out"
        tar -C "$out" -xf "$work/round.tar"
        t0=$(now)
        case $1 in
        fsync) find "$out" -print0 | xargs -0 sync ;;
        syncfs) sync -f "$out" ;;
        esac
        t1=$(now)
        rm -rf "$out"
        echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}

: >"$work/fsync.t"
: >"$work/syncfs.t"
for ((r = 0; r < ROUNDS; r++)); do
        one fsync "$r" >>"$work/fsync.t"
        one syncfs "$r" >>"$work/syncfs.t"
done
echo "$SIZE MB in $FILES files, $ROUNDS rounds, on $(df -T "$work" | awk 'NR == 2 {print $2}'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  every file and directory fsync'd: $(median <"$work/fsync.t") s (median; all: $(xargs <"$work/fsync.t"))"
echo "  one syncfs of the file system:    $(median <"$work/syncfs.t") s (median; all: $(xargs <"$work/syncfs.t"))"
