#!/bin/bash
# paene footprint benchmark: what a VPS costs on disk and in the page cache
# when N VPS share one template.
#
# Starts a private vsd (own state root under /tmp, own cgroup name, own network
# namespace), builds the busybox template, creates N VPS without a disk limit
# and N with one (--diskspace 1G, a sparse ext4 image), timing each create,
# and prints the host disk each VPS uses. Then starts the N VPS without a limit
# and compares the summed PSS of the busybox binary mapped by their N inits
# with its RSS in one: one shared copy gives a sum about equal to one RSS. A
# trap removes everything on any failure or interruption (DESIGN.md section 7).
#
# Usage: [BUILD=build] contrib/bench/footprint.sh [N]   (as root; N defaults to 20)
set -euo pipefail
export LC_ALL=C

prog=footprint.sh
tag=footprint
. "$(dirname "$0")/../lib.sh"
N=${1:-20}
require_vps_count "$N" 1000
require_root "sudo contrib/bench/footprint.sh"
find_binaries
require_tools unshare mktemp awk sort
vs() { "$VSCTL" --root "$ROOT" "$@"; }
make_root
install_traps
phase="starting vsd"
start_vsd
vs template build busybox >/dev/null
vps_dir=$ROOT/var/lib/paene/vps

# create_all PREFIX ARGS...: creates N VPS, prints the median create time.
create_all() {
        local prefix=$1 i t0 t1
        shift
        for ((i = 0; i < N; i++)); do
                t0=$EPOCHREALTIME
                vs create "$prefix$i" --template busybox "$@"
                t1=$EPOCHREALTIME
                echo "$t0 $t1" | awk '{printf "%.3f\n", ($2 - $1) * 1000}'
        done | sort -n | awk '{a[NR] = $1} END {printf "%.3f", a[int((NR + 1) / 2)]}'
}

# kib_per_vps PREFIX: host disk (du, KiB) per VPS of that prefix.
kib_per_vps() {
        du -skc "$vps_dir/$1"* | tail -1 | awk -v n="$N" '{printf "%.1f", $1 / n}'
}

echo "paene footprint, N=$N VPS on one busybox template ($(du -sk "$ROOT/var/lib/paene/templates/busybox" | cut -f1) KiB)"
ms=$(create_all plain)
echo "no disk limit:       create median ${ms} ms, host disk $(kib_per_vps plain) KiB per VPS"
ms=$(create_all img --diskspace 1G)
echo "--diskspace 1G:      create median ${ms} ms, host disk $(kib_per_vps img) KiB per VPS (sparse image)"
for ((i = 0; i < N; i++)); do vs destroy "img$i"; done

# text_kib PID FIELD: FIELD (Rss or Pss, kB) of the code (r-xp) mapping of
# /bin/busybox in the process PID: one shared copy of the template's
# busybox makes the Pss of N inits add up to about one init's Rss
text_kib() {
        awk -v f="$2:" '$2 ~ /^r-x/ && $6 == "/bin/busybox" {m = 1; next}
                /^[0-9a-f]+-[0-9a-f]+ / {m = 0}
                m && $1 == f {s += $2} END {print s + 0}' "/proc/$1/smaps"
}

# page cache: every init maps the template's busybox; its code is one copy
# when the PSS of all of them adds up to the RSS of one
pss=0
for ((i = 0; i < N; i++)); do vs start "plain$i"; done
for ((i = 0; i < N; i++)); do
        pid=$(vs status "plain$i" --json | awk -F'[:,]' '/"pid"/ {gsub(/ /, "", $2); print $2}')
        [ "$i" -eq 0 ] && first=$pid
        pss=$((pss + $(text_kib "$pid" Pss)))
done
echo "busybox code in the page cache: RSS of one init $(text_kib "$first" Rss) KiB," \
        "PSS summed over $N inits ${pss} KiB"
finish
