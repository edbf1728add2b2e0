#!/bin/bash
# tracesched.sh OUT [--bpf SCRIPT BPFOUT PID] -- CMD [ARG...]
#
# Runs CMD with the scheduler and the network receive path traced (tracefs
# events), for contrib/bench/isolation.sh ISOLATION_TRACE. The trace goes to
# OUT (text, CLOCK_MONOTONIC timestamps, the clock of payload udpping's
# per-request log), CMD's pid to OUT.pid, CMD's stdout to stdout.
# With --bpf, bpftrace runs SCRIPT PID CMD's-pid beside it (output to BPFOUT;
# CMD starts once bpftrace has attached).
#
# tracefs is mounted in a private mount namespace of this script's own (the
# host's mount table is not touched) and the events go to a tracing instance
# of its own (instances/paene-PID), removed at exit: the top-level buffer and
# any other user's instance are left as they are. Must run as root.
set -u
usage() { echo "usage: tracesched.sh OUT [--bpf SCRIPT BPFOUT PID] -- CMD [ARG...]" >&2; exit 2; }
[ $# -ge 3 ] || usage
OUT=$1
BPF=()
if [ "$2" = --bpf ]; then
        [ $# -ge 7 ] || usage
        BPF=("$3" "$4" "$5")
        set -- "$1" "${@:6}"
fi
[ "$2" = "--" ] || usage
shift 2
if [ -z "${TRACESCHED_INSIDE:-}" ]; then
        args=("$OUT")
        [ ${#BPF[@]} -eq 0 ] || args+=(--bpf "${BPF[@]}")
        TRACESCHED_INSIDE=1 exec unshare -m --propagation private "$0" "${args[@]}" -- "$@"
fi

# bpftrace looks for tracefs here; mounted in this namespace only, unless
# the host has it there already
MNT=/sys/kernel/tracing
[ -e "$MNT/instances" ] || mount -t tracefs nodev "$MNT" || exit 1
T="$MNT/instances/paene-$$"
mkdir "$T" || exit 1
FIFO=$(mktemp -u /tmp/paene-tracesched.XXXXXX)
mkfifo "$FIFO" || exit 1
cmd_pid= bpf_pid=
cleanup() {
        echo 0 >"$T/tracing_on" 2>/dev/null
        [ -z "$bpf_pid" ] || { kill -INT "$bpf_pid" 2>/dev/null; wait "$bpf_pid" 2>/dev/null; }
        [ -z "$cmd_pid" ] || kill "$cmd_pid" 2>/dev/null
        rmdir "$T" 2>/dev/null
        rm -f "$FIFO"
}
trap cleanup EXIT

echo 0 >"$T/tracing_on" # a new instance traces at once
echo mono >"$T/trace_clock"
echo 32768 >"$T/buffer_size_kb"
for ev in sched/sched_waking sched/sched_wakeup sched/sched_wakeup_new sched/sched_switch \
        sched/sched_migrate_task irq/softirq_entry irq/softirq_exit \
        irq_vectors/reschedule_entry irq_vectors/local_timer_entry \
        irq_vectors/call_function_single_entry net/netif_rx net/napi_poll; do
        [ -e "$T/events/$ev/enable" ] && echo 1 >"$T/events/$ev/enable"
done

# CMD waits for the word to go: its pid is known before it runs
bash -c 'read -r _ <"$1" && shift && exec "$@"' _ "$FIFO" "$@" &
cmd_pid=$!
echo "$cmd_pid" >"$OUT.pid"
# the socket calls of CMD and of the first PID (--bpf) only: the machine's
# other processes make many
pids="common_pid == $cmd_pid"
[ ${#BPF[@]} -eq 0 ] || pids="$pids || common_pid == ${BPF[2]}"
for ev in sys_enter_sendto sys_exit_sendto sys_enter_recvfrom sys_exit_recvfrom; do
        [ -e "$T/events/syscalls/$ev/enable" ] || continue
        echo "$pids" >"$T/events/syscalls/$ev/filter" && echo 1 >"$T/events/syscalls/$ev/enable"
done
if [ ${#BPF[@]} -gt 0 ]; then
        bpftrace -B line "${BPF[0]}" "${BPF[2]}" "$cmd_pid" >"${BPF[1]}" 2>"${BPF[1]}.err" &
        bpf_pid=$!
        # bounded: bpftrace compiles and attaches in a second or two
        for _ in $(seq 100); do
                grep -q '^Attaching' "${BPF[1]}" 2>/dev/null && break
                sleep 0.1
        done
fi
echo 1 >"$T/tracing_on"
echo go >"$FIFO"
wait "$cmd_pid"
rc=$?
cmd_pid=
echo 0 >"$T/tracing_on"
cat "$T/trace" >"$OUT"
exit $rc
