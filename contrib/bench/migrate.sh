#!/bin/bash
# paene migration benchmark: vsctl migrate of a running VPS with SIZE MB of
# its own files (files of 50 MB) from one vsd to another on this machine
# (each in a network namespace of its own), CHANGE MB of them rewritten
# inside the VPS while the copy runs (after the first round, through the
# PAENE_MIGRATE_HOLD hook, so that every run changes the same amount).
# Prints the downtime (stop on the source to running on the target), the
# total time, the bytes sent and the rounds, with the load (uptime).
#
# Starts two private vsd (state roots under /tmp, own cgroup names); a trap
# cleans up on any failure or interruption.
#
# Usage: [BUILD=build] [MIGRATE_TARBALL=debian.tar.zst] [MIGRATE_IMAGE=1]
#        contrib/bench/migrate.sh [SIZE_MB [CHANGE_MB]]
#        (as root; defaults 1024 and 100; MIGRATE_TARBALL: a Debian
#        template with systemd instead of busybox; MIGRATE_IMAGE=1: the VPS
#        on a disk image of SIZE_MB + 25%, which goes as rounds of blocks)
set -euo pipefail
export LC_ALL=C

prog=migrate.sh
tag=migrate
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

SIZE=${1:-1024}
CHANGE=${2:-100}
case $SIZE$CHANGE in '' | *[!0-9]*) echo "usage: $prog [SIZE_MB [CHANGE_MB]]" >&2; exit 2 ;; esac
[ "$CHANGE" -le "$SIZE" ] || { echo "$prog: CHANGE_MB is more than SIZE_MB" >&2; exit 2; }
require_root "sudo contrib/bench/migrate.sh"
find_binaries
require_tools unshare awk python3 mkfifo
vs() { "$VSCTL" "$@"; }

# the target: a second vsd below our root, with a cgroup name of its own
T=
T_PID=
TCG=$CG-t
tvs() { "$VSCTL" --root "$T" "$@"; }
stop_target() {
        local n i
        [ -n "$T_PID" ] || return 0
        for n in $(timeout 10 "$VSCTL" --root "$T" list -a -H -o name 2>/dev/null); do
                timeout 30 "$VSCTL" --root "$T" destroy --force "$n" >/dev/null 2>&1
        done
        kill -TERM "$T_PID" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
                kill -0 "$T_PID" 2>/dev/null || break
                sleep 0.1
        done
        ROOT=$T stop_view
        CG=$TCG kill_orphans
        T_PID=
}
bench_cleanup() {
        local rc=$?
        set +e
        stop_target
        (exit "$rc")
        cleanup
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_root
phase="start vsd"
start_vsd
T=$ROOT/target
mkdir -p "$T"
unshare -n "$VSD" --root "$T" --cgroup-name "$TCG" </dev/null
T_PID=$(cat "$T/run/paene/vsd.pid")
# MIGRATE_TARBALL: a Debian template with systemd (as contrib/bench/boot.sh
# takes) instead of busybox, so that the clean stop is systemd's halt
TMPL=busybox
if [ -n "${MIGRATE_TARBALL:-}" ]; then
        TMPL=deb
        phase="import $MIGRATE_TARBALL"
        timeout 300 "$VSCTL" template import deb "$MIGRATE_TARBALL" </dev/null >/dev/null
        timeout 300 "$VSCTL" --root "$T" template import deb "$MIGRATE_TARBALL" </dev/null >/dev/null
else
        vs template build busybox >/dev/null
        tvs template build busybox >/dev/null
fi

DISK=()
BACKEND=dir
if [ "${MIGRATE_IMAGE:-0}" = 1 ]; then
        DISK=(--diskspace "$((SIZE + SIZE / 4))M")
        BACKEND="a disk image of $((SIZE + SIZE / 4)) MB"
fi
vs create b1 --template "$TMPL" "${DISK[@]}"
vs start b1
if [ "$TMPL" = deb ]; then
        phase="wait for systemd to boot"
        for ((i = 0; i < 600; i++)); do
                state=$(vs exec b1 -- systemctl is-system-running 2>/dev/null || true)
                case $state in running | degraded) break ;; esac
                sleep 0.1
        done
        echo "systemd in b1: ${state:-no answer}"
fi
phase="write $SIZE MB"
n=$((SIZE / 50))
vs exec b1 -- sh -c "mkdir /data && i=0; while [ \$i -lt $n ]; do head -c 52428800 /dev/urandom >/data/f\$i; i=\$((i + 1)); done; sync"

held_by() { # pid fifo: the process has the fifo open
        local f
        for f in /proc/"$1"/fd/*; do
                [ "$(readlink "$f" 2>/dev/null)" = "$2" ] && return 0
        done
        return 1
}

# migrate_once FROM TO [OPTIONS]: b1 from the vsd of root FROM to that of TO,
# CHANGE MB rewritten during the copy; prints the figures
migrate_once() {
        local from=$1 to=$2 fifo=$ROOT/hold mig i
        shift 2
        phase="migrate to $to $*"
        rm -f "$fifo"
        mkfifo "$fifo"
        PAENE_MIGRATE_HOLD=$fifo "$VSCTL" --root "$from" migrate b1 "$to" --json "$@" >"$ROOT/report.json" &
        mig=$!
        # open without blocking; wait (bounded) until the conductor holds there
        exec 3<>"$fifo"
        for ((i = 0; i < 1200; i++)); do
                held_by "$mig" "$fifo" && break
                kill -0 "$mig" 2>/dev/null || break
                sleep 0.1
        done
        held_by "$mig" "$fifo" || { echo "$prog: the migration did not reach its first round's end" >&2; exit 1; }
        # while the copy is under way: CHANGE MB rewritten
        "$VSCTL" --root "$from" exec b1 -- sh -c "i=0; while [ \$i -lt $((CHANGE / 50)) ]; do head -c 52428800 /dev/urandom >/data/f\$i; i=\$((i + 1)); done; sync"
        exec 3>&-
        wait "$mig"
        [ "$("$VSCTL" --root "$to" list -H -o state b1 | tr -d ' ')" = running ] ||
                { echo "$prog: b1 does not run on $to" >&2; exit 1; }
        python3 - "$ROOT/report.json" "$SIZE" "$CHANGE" "$(uptime | sed 's/.*load average: //')" "$*" "$BACKEND" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"vsctl migrate {sys.argv[5] or '(clean stop)'}: {sys.argv[2]} MB own files "
      f"(on {sys.argv[6]}), {sys.argv[3]} MB changed during the copy, running VPS, "
      f"to another vsd of this machine")
print(f"  downtime {r['downtime_s']:.3f} s (stop on the source to running on the target): "
      f"stop {r['stop_s']:.3f} s, last round {r['last_round_s']:.3f} s, "
      f"install and start {r['start_s']:.3f} s")
print(f"  total    {r['total_s']:.3f} s, {r['bytes'] / 1048576:.1f} MB sent in {r['rounds']} rounds")
print(f"  load     {sys.argv[4]}")
EOF2
}

echo "machine: nproc $(nproc), kernel $(uname -r), state roots on $(stat -f -c %T "$ROOT")"
migrate_once "$ROOT" "$T"
# and back, stopped by SIGKILL (no init shutdown)
migrate_once "$T" "$ROOT" --fast
vs destroy --force b1 >/dev/null
phase=cleanup
stop_target
stop_vsd
phase=done
