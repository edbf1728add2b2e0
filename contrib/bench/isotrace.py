#!/usr/bin/env python3
"""isotrace.py TRACE LOG ECHO_PID CLIENT_PID [SLOW_US]

Where the time of each slow round trip of contrib/bench/isolation.sh went,
from a tracesched.sh trace (tracefs text, CLOCK_MONOTONIC) and payload
udpping's per-request log ("I T0_NS RTT_US"). For each request of SLOW_US
(default 500) or more, one line:

  the request's number and round trip;
  send: from the client's sendto to the echo server's wakeup (the send path,
        the softirq that delivers it);
  echo: from that wakeup to the echo server on a CPU: which CPU, who ran
        there meanwhile and for how long, whether a tick came in between;
  serve: from the echo server running to the client's wakeup (its recvfrom,
        sendto, the reply's softirq);
  client: from the client's wakeup to it on a CPU, who ran there meanwhile;
  migrations of either in the window.

Then a summary: per phase, the median over all requests and over the slow.
"""
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(\w+):\s*(.*)$")
KV = re.compile(r"(\w+)=(\S+)")


def parse(path):
    events = []
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            comm, pid, cpu, ts, name, rest = m.groups()
            events.append((int(round(float(ts) * 1e6)), int(cpu), name, int(pid), comm, rest))
    events.sort(key=lambda e: e[0])
    return events


def fields(rest):
    return dict(KV.findall(rest))


def switch_parts(rest):
    # prev_comm=... prev_pid=N prev_prio=P prev_state=S ==> next_comm=... next_pid=N next_prio=P
    left, _, right = rest.partition("==>")
    p = fields(left)
    n = fields(right)
    return p, n


class Cpu:
    """who runs on a CPU when, from sched_switch"""

    def __init__(self):
        self.spans = []  # (start_us, end_us, comm, pid)
        self.cur = None  # (since, comm, pid)


def build_cpus(events):
    cpus = defaultdict(Cpu)
    for ts, cpu, name, pid, comm, rest in events:
        if name != "sched_switch":
            continue
        p, n = switch_parts(rest)
        c = cpus[cpu]
        if c.cur is not None:
            c.spans.append((c.cur[0], ts, c.cur[1], c.cur[2]))
        c.cur = (ts, n.get("next_comm", "?"), int(n.get("next_pid", "-1")))
    return cpus


def ran_between(cpus, cpu, a, b):
    """[(comm:pid, µs)] that ran on cpu in [a, b), biggest first"""
    out = defaultdict(int)
    for s, e, comm, pid in cpus[cpu].spans:
        lo, hi = max(s, a), min(e, b)
        if hi > lo:
            out["%s:%d" % (comm, pid)] += hi - lo
    return sorted(out.items(), key=lambda kv: -kv[1])


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    events = parse(sys.argv[1])
    echo, client = int(sys.argv[3]), int(sys.argv[4])
    slow_us = float(sys.argv[5]) if len(sys.argv) > 5 else 500
    reqs = []
    with open(sys.argv[2]) as f:
        for line in f:
            i, t0, rtt = line.split()
            reqs.append((int(i), int(float(t0) / 1000), float(rtt)))
    cpus = build_cpus(events)
    times = [e[0] for e in events]
    import bisect

    phases = defaultdict(list)
    slow_phases = defaultdict(list)
    causes = defaultdict(int)
    for i, t0, rtt in reqs:
        if rtt < 0:
            continue
        lo = bisect.bisect_left(times, t0 - 5)
        hi = bisect.bisect_right(times, t0 + int(rtt) + 30)
        win = events[lo:hi]
        mark = {}
        mig = []
        ticks = defaultdict(list)
        softirq = []
        for ts, cpu, name, pid, comm, rest in win:
            f = fields(rest) if name != "sched_switch" else None
            if name == "sched_waking" and int(f.get("pid", -1)) == echo and "wake_echo" not in mark:
                mark["wake_echo"] = (ts, cpu)
            elif name == "sched_wakeup" and int(f.get("pid", -1)) == echo and "wakeup_echo" not in mark:
                mark["wakeup_echo"] = (ts, int(f.get("target_cpu", cpu)))
            elif name == "sched_switch":
                p, n = switch_parts(rest)
                np_ = int(n.get("next_pid", -1))
                if np_ == echo and "wake_echo" in mark and "run_echo" not in mark:
                    mark["run_echo"] = (ts, cpu)
                if np_ == client and "wake_client" in mark and "run_client" not in mark:
                    mark["run_client"] = (ts, cpu)
            elif name == "sched_waking" and int(f.get("pid", -1)) == client and "run_echo" in mark \
                    and "wake_client" not in mark:
                mark["wake_client"] = (ts, cpu)
            elif name == "sched_wakeup" and int(f.get("pid", -1)) == client and "wake_client" in mark \
                    and "wakeup_client" not in mark:
                mark["wakeup_client"] = (ts, int(f.get("target_cpu", cpu)))
            elif name == "sched_migrate_task" and int(f.get("pid", -1)) in (echo, client):
                mig.append("%s %s->%s" % ("echo" if int(f["pid"]) == echo else "client",
                                          f.get("orig_cpu"), f.get("dest_cpu")))
            elif name == "local_timer_entry":
                ticks[cpu].append(ts)
            elif name == "softirq_entry" and "NET_RX" in rest:
                softirq.append((ts, cpu, comm, pid))
        need = ("wake_echo", "run_echo", "wake_client", "run_client")
        if not all(k in mark for k in need):
            if rtt >= slow_us:
                print("%4d %7.0f us: incomplete trace (%s)" % (i, rtt, " ".join(sorted(mark))))
            continue
        send = mark["wake_echo"][0] - t0
        ecpu = mark.get("wakeup_echo", mark["run_echo"])[1]
        ewait = mark["run_echo"][0] - mark["wake_echo"][0]
        serve = mark["wake_client"][0] - mark["run_echo"][0]
        ccpu = mark.get("wakeup_client", mark["run_client"])[1]
        cwait = mark["run_client"][0] - mark["wake_client"][0]
        tail = t0 + rtt - mark["run_client"][0]
        for k, v in (("send", send), ("echo wait", ewait), ("serve", serve),
                     ("client wait", cwait), ("after", tail)):
            phases[k].append(v)
            if rtt >= slow_us:
                slow_phases[k].append(v)
        if rtt < slow_us:
            continue
        big = max((("send", send), ("echo wait", ewait), ("serve", serve), ("client wait", cwait)),
                  key=lambda kv: kv[1])
        causes["%s (%s)" % (big[0], "cpu%d" % (ecpu if big[0] == "echo wait" else ccpu))] += 1

        def who(cpu, a, b):
            r = ran_between(cpus, cpu, a, b)
            return ", ".join("%s %d" % kv for kv in r[:3]) or "-"

        def tick(cpu, a, b):
            t = [x - a for x in ticks[cpu] if a <= x <= b]
            return (" tick +%d" % t[0]) if t else ""

        print("%4d %7.0f us | send %5d (cpu%d) | echo wait %5d cpu%d woken from cpu%d [%s]%s | "
              "serve %4d | client wait %5d cpu%d woken from cpu%d [%s]%s | net_rx %s%s" % (
                  i, rtt, send, mark["wake_echo"][1], ewait, mark["run_echo"][1], mark["wake_echo"][1],
                  who(mark["run_echo"][1], mark["wake_echo"][0], mark["run_echo"][0]),
                  tick(mark["run_echo"][1], mark["wake_echo"][0], mark["run_echo"][0]),
                  serve, cwait, mark["run_client"][1], mark["wake_client"][1],
                  who(mark["run_client"][1], mark["wake_client"][0], mark["run_client"][0]),
                  tick(mark["run_client"][1], mark["wake_client"][0], mark["run_client"][0]),
                  " ".join("cpu%d:%s" % (c, comm) for _, c, comm, _ in softirq[:4]),
                  (" | " + ", ".join(mig)) if mig else ""))

    def med(v):
        v = sorted(v)
        return v[len(v) // 2] if v else 0

    print("phase medians (us), all %d / slow %d:" % (len(phases["send"]), len(slow_phases["send"])))
    for k in ("send", "echo wait", "serve", "client wait", "after"):
        print("  %-12s %6d / %6d   max %6d" % (k, med(phases[k]), med(slow_phases[k]),
                                              max(phases[k]) if phases[k] else 0))
    print("slow requests by their longest phase: " +
          ", ".join("%s %d" % kv for kv in sorted(causes.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
