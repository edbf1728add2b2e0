#!/usr/bin/env python3
"""isowake.py TRACE WAKEUPS ECHO_PID

For contrib/bench/isolation.sh ISOLATION_TRACE: each wakeup of the echo
server that preempt.bt recorded (WAKEUPS), at the level where its entity
chain and the running task's meet (the cfs_rq both are queued on): was the
woken entity eligible, whose deadline was earlier, was the running entity
still protected (run to parity: vprot ahead of its vruntime) after the
kernel's check; and, from the tracesched.sh trace (TRACE), how long the echo
server then waited for the CPU. One line per kind of wakeup: how many, the
median wait, how many waited over 0.5 ms.
"""
import bisect
import collections
import re
import sys

LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+(\S+)\s+([\d.]+):\s+(\w+):\s*(.*)$")


def s64(x):
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >> 63 else x


def parse_wakeups(path):
    """[{ts, cpu, pid, cpid, ccomm, w: [level], c: [level]}] from preempt.bt"""
    evs = []
    cur = None
    for line in open(path, errors="replace"):
        t = line.split()
        if not t:
            continue
        if t[0] == "W" and len(t) >= 6:
            cur = {"ts": int(t[1]), "cpu": int(t[2]), "pid": int(t[3]), "cpid": int(t[4]),
                   "ccomm": t[5], "w": [], "c": []}
            evs.append(cur)
        elif t[0] == "E" and cur is not None and "|" in t:
            bar = t.index("|")
            a, b = t[2:bar], t[bar + 1:]
            cur[t[1]].append(dict(depth=int(a[0]), q=a[1], vr=int(a[2]), dl=int(a[3]),
                                  vlag=int(a[4]), slice=int(a[5]), w=int(a[6]),
                                  avg=int(b[0]), load=int(b[1]), zero=int(b[2]), qcurr=b[3],
                                  cvr=int(b[4]), cw=int(b[5]), conrq=int(b[6])))
    return evs


def eligible(lvl, vruntime):
    """the kernel's vruntime_eligible() on lvl's cfs_rq"""
    avg, load = lvl["avg"], lvl["load"]
    if lvl["qcurr"] != "0" and lvl["conrq"]:
        w = lvl["cw"] >> 10
        avg += s64(lvl["cvr"] - lvl["zero"]) * w
        load += w
    return load == 0 or avg >= s64(vruntime - lvl["zero"]) * load


def meet(ev):
    """(woken level, current level) on the cfs_rq both chains share"""
    cq = {lvl["q"]: lvl for lvl in ev["c"]}
    for lvl in ev["w"]:
        if lvl["q"] in cq:
            return lvl, cq[lvl["q"]]
    return None, None


def echo_waits(path, echo):
    """[(wakeup µs, wait µs)]: sched_wakeup of echo to the switch to it"""
    out = []
    pending = None
    for line in open(path, errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        name, rest, t = m.group(6), m.group(7), float(m.group(5)) * 1e6
        if name == "sched_wakeup" and re.search(r"\bpid=%d\b" % echo, rest):
            pending = t
        elif name == "sched_switch" and pending is not None and \
                re.search(r"next_pid=%d\b" % echo, rest):
            out.append((pending, t - pending))
            pending = None
    return out


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    echo = int(sys.argv[3])
    waits = echo_waits(sys.argv[1], echo)
    times = [w[0] for w in waits]
    kinds = collections.defaultdict(list)
    for ev in parse_wakeups(sys.argv[2]):
        if ev["pid"] != echo:
            continue
        pw, pc = meet(ev)
        if pw is None:
            continue
        t = ev["ts"] / 1000.0
        i = bisect.bisect_left(times, t - 30)
        if i >= len(waits) or abs(waits[i][0] - t) > 30:
            continue
        curr = ev["ccomm"]
        if curr == "payload":
            curr = "a hog" if pw["depth"] >= 2 else "payload (the client)"
        key = ("meet at depth %d" % pw["depth"], "beside " + curr,
               "echo eligible" if eligible(pw, pw["vr"]) else "echo NOT eligible",
               "echo's deadline earlier" if s64(pw["dl"] - pc["dl"]) < 0 else "its deadline earlier",
               "it still protected" if s64(pc["vlag"] - pc["vr"]) > 0 else "it unprotected")
        kinds[key].append(waits[i][1])
    print("echo server wakeups (preempt.bt), by where its chain met the running one:")
    for key, v in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        v.sort()
        print("  %-100s n %4d  wait median %5.0f us  over 500 us %3d" % (
            " / ".join(key), len(v), v[len(v) // 2], sum(1 for x in v if x > 500)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
