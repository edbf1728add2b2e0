#!/usr/bin/env python3
"""Where the timed stops and destroys of contrib/bench/stop.sh wait, from a
system-wide `perf record` of scheduler events and CPU samples, as stop.sh
writes with STOP_SCHED=FILE:

    perf script -i FILE -F comm,pid,tid,cpu,time,event,trace,ip,sym >FILE.txt
    stop-offcpu.py FILE.txt VSD_PID

For the first 60 vsctl processes (30 stops and 30 destroys, one after the
other) it sums how vsd and that vsctl spent each command's life off the
CPU: asleep (by kernel stack: waiting for the other, for a lock, for I/O),
runnable but waiting for a CPU (woken or preempted); what ran on the CPUs
while they waited for one; and what the kernel's workers (kworker) spent
their CPU samples on, by work function, over the whole record."""
import collections
import re
import sys

HDR = re.compile(r'\s*(\S.*?)\s+(\d+)/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)')
SKIP = ('__schedule', 'schedule', 'io_schedule', 'preempt_schedule', '__cond_resched')


def read(path):
    ev = []
    for block in open(path).read().split('\n\n'):
        lines = block.strip('\n').split('\n')
        m = HDR.match(lines[0]) if lines else None
        if not m:
            continue
        comm, _, tid, cpu, t, name, trace = m.groups()
        stack = [l.split()[1] for l in lines[1:] if len(l.split()) > 1]
        ev.append((float(t), int(cpu), comm, int(tid), name, trace, stack))
    ev.sort(key=lambda e: e[0])
    return ev


def fields(trace):
    return dict(re.findall(r'(\w+)=(\S+)', trace))


def short(comm):
    return re.sub(r'[:/]\d.*', '', comm)


def main():
    ev = read(sys.argv[1])
    vsd = int(sys.argv[2])
    execs = [(e[0], e[3]) for e in ev if e[4] == 'sched:sched_process_exec' and 'vsctl' in e[5]]
    exits = {e[3]: e[0] for e in ev if e[4] == 'sched:sched_process_exit' and e[2] == 'vsctl'}
    wins = [(t, exits[p], p, 'stop' if i % 2 == 0 else 'destroy')
            for i, (t, p) in enumerate(execs[:60]) if p in exits]
    clients = {p for _, _, p, _ in wins}

    def window(t):
        return next((w for w in wins if w[0] <= t <= w[1]), None)

    off, woke, cur, runs, waits = {}, {}, {}, [], []
    agg = {'stop': collections.Counter(), 'destroy': collections.Counter()}
    for t, cpu, comm, tid, name, trace, stack in ev:
        if name == 'sched:sched_wakeup':
            woke[int(fields(trace)['pid'])] = t
            continue
        if name != 'sched:sched_switch':
            continue
        k = fields(trace)
        prev, nxt = int(k['prev_pid']), int(k['next_pid'])
        if cpu in cur:
            runs.append((cur[cpu][0], t, short(cur[cpu][1])))
        cur[cpu] = (t, k['next_comm'])
        off[prev] = (t, k['prev_state'], stack)
        if nxt not in off:
            continue
        t_out, state, st = off.pop(nxt)
        t_woke = woke.pop(nxt, None)
        w = window(t)
        if not w or nxt not in (vsd, w[2]):
            continue
        who = 'vsd' if nxt == vsd else 'vsctl'
        t_out = max(t_out, w[0])
        if state.startswith('R'):
            agg[w[3]][(who, 'preempted, waiting for a CPU')] += t - t_out
            waits.append((t_out, t))
            continue
        t_woke = t_woke if t_woke and t_woke > t_out else t_out
        agg[w[3]][(who, 'woken, waiting for a CPU')] += t - t_woke
        waits.append((t_woke, t))
        where = '<'.join([s for s in st if not s.startswith(SKIP)][:4])
        agg[w[3]][(who, 'asleep (%s) %s' % (state, where))] += t_woke - t_out
    for kind, c in agg.items():
        n = sum(1 for w in wins if w[3] == kind)
        total = sum(w[1] - w[0] for w in wins if w[3] == kind)
        print('%s: %d, %.2f ms each (vsctl exec to exit)' % (kind, n, total * 1e3 / max(n, 1)))
        for (who, what), v in c.most_common(10):
            print('  %-6s %6.2f ms each  %s' % (who, v * 1e3 / max(n, 1), what))
    ran = collections.Counter()
    for a, b in waits:
        for x, y, comm in runs:
            if y > a and x < b:
                ran[comm] += min(y, b) - max(x, a)
    print('while vsd or vsctl waited for a CPU (%.1f ms in all), the CPUs ran (ms):'
          % (sum(b - a for a, b in waits) * 1e3))
    print('  ' + ', '.join('%s %.1f' % (c, v * 1e3) for c, v in ran.most_common(12)))
    work, period = collections.Counter(), None
    samples = [e for e in ev if e[4] == 'cpu-clock']
    if len(samples) > 1:
        period = 0.25  # stop.sh samples every 250 us of cpu-clock
    for t, cpu, comm, tid, name, trace, stack in samples:
        if comm.startswith('kworker'):
            fn = stack[stack.index('process_one_work') - 1] if 'process_one_work' in stack[1:] else '(other)'
            work[fn] += period
    if work:
        print('kworker CPU by work function over the record (ms): ' +
              ', '.join('%s %.1f' % kv for kv in work.most_common(8)))


if __name__ == '__main__':
    main()
