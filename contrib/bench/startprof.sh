#!/bin/bash
# paene bench (issue 13): what grows in a VPS start from the first starts of
# N to the last, by kernel and vsd symbol.
#
# Starts a private vsd (routed mode, as density.sh, no httpd), creates N
# busybox VPS, then starts them in order: the first P and the last P under
# `perf record -g` of vsd and everything it forks (its builders, the inits
# until their exec), the others without. Prints the wall time per start of
# both windows, the CPU per start perf sampled (cpu-clock, 4000 Hz), and
# the symbols whose CPU per start grew most from the first window to the
# last. The perf data stay in OUT.first.data and OUT.last.data for
# `perf report -i ... -S SYMBOL -G`.
#
# Usage: [BUILD=build] contrib/bench/startprof.sh N [P [OUT]]
#        (as root; N 2..8192, P 1..N/2 starts per window, 300; OUT a path
#        prefix, /tmp/startprof). For N above ~4000, kernel.pty.max is raised
#        to 2N for the run (one host pty per console; the trap puts it back).
set -euo pipefail
export LC_ALL=C

prog=startprof.sh
tag=startprof
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=lib-timing.sh
. "$(dirname "$0")/lib-timing.sh"

usage() { echo "usage: $prog N [P [OUT]]   (N: VPS, 2..8192; P: starts profiled at each end, 1..N/2, 300)" >&2; exit 2; }
N=${1:-}
P=${2:-300}
OUT=${3:-/tmp/startprof}
case $N in '' | *[!0-9]* | 0*) usage ;; esac
case $P in '' | *[!0-9]* | 0*) usage ;; esac
[ "$N" -ge 2 ] && [ "$N" -le 8192 ] && [ "$P" -le $((N / 2)) ] || usage
require_root "sudo contrib/bench/startprof.sh $N"
[ -n "${EPOCHREALTIME:-}" ] || { echo "$prog: needs bash 5 or later" >&2; exit 1; }
find_binaries
require_tools perf unshare nsenter timeout mktemp awk sort
install_traps

PTY_MAX_WAS=
restore_host() { [ -z "$PTY_MAX_WAS" ] || echo "$PTY_MAX_WAS" >/proc/sys/kernel/pty/max; }
if [ $((2 * N)) -gt "$(cat /proc/sys/kernel/pty/max)" ]; then
        PTY_MAX_WAS=$(cat /proc/sys/kernel/pty/max)
        echo $((2 * N)) >/proc/sys/kernel/pty/max
fi

private_vsd_with_busybox $'network_mode = routed\npool4 = 10.200.0.0/16'
phase="creating $N VPS"
for ((i = 0; i < N; i++)); do "$VSCTL" create "p$i" --template busybox </dev/null >/dev/null; done

# profiled FROM TO FILE: starts p(FROM)..p(TO-1) under perf; prints the wall time
profiled() {
        local pp t0 t1 i load
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        # cpu-clock at 4000 Hz on any machine: a sample is 0.25 ms of CPU
        perf record -q -e cpu-clock -F 4000 -g -p "$VSD_PID" -o "$3" 2>/dev/null &
        pp=$!
        sleep 1 # perf needs a moment to attach; not a measurement
        now_us; t0=$REPLY
        for ((i = $1; i < $2; i++)); do "$VSCTL" start "p$i" </dev/null >/dev/null; done
        now_us; t1=$REPLY
        kill -INT "$pp"
        wait "$pp" || true
        printf 'starts %d..%d: %.2f ms each (wall), load %s before, %s after\n' "$1" "$(($2 - 1))" \
                "$(((t1 - t0) / ($2 - $1) / 10))e-2" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
# samples per symbol, as "COUNT SYMBOL"
symbols() { perf report -i "$1" --no-children --sort sym -q --stdio -F sample,sym -g none 2>/dev/null |
        awk 'NF >= 3 {n = $1; $1 = ""; $2 = ""; sub(/^ +/, ""); print n, $0}'; }

phase="profiling the first $P starts"
profiled 0 "$P" "$OUT.first.data"
phase="starting the middle"
for ((i = P; i < N - P; i++)); do "$VSCTL" start "p$i" </dev/null >/dev/null; done
phase="profiling the last $P starts"
profiled $((N - P)) "$N" "$OUT.last.data"
phase="reading the profiles"
symbols "$OUT.first.data" >"$OUT.first.sym"
symbols "$OUT.last.data" >"$OUT.last.sym"
# a cpu-clock sample at 4000 Hz is 0.25 ms of CPU
awk -v p="$P" '
        FNR == 1 { file++ }
        { n = $1; $1 = ""; sub(/^ /, ""); if (file == 1) a[$0] += n; else b[$0] += n; all[$0] = 1 }
        END {
                for (s in a) ta += a[s]
                for (s in b) tb += b[s]
                printf "CPU per start (vsd and its children, sampled): first %.2f ms, last %.2f ms\n", ta * 0.25 / p, tb * 0.25 / p
                print "grew most, ms per start (first, last, difference):"
                for (s in all) printf "%.3f %.3f %+.3f %s\n", a[s] * 0.25 / p, b[s] * 0.25 / p, (b[s] - a[s]) * 0.25 / p, s | "sort -k3,3gr | head -20"
        }' "$OUT.first.sym" "$OUT.last.sym"
finish
