#!/usr/bin/env python3
"""No cycles of calls between the daemon's files (docs/ARCHITECTURE.md).

Reads the symbols each object of vsd defines and uses (nm) and makes the
graph "file A calls a function of file B". Upward calls go through
callbacks (struct vsd_hooks), which nm does not see as calls; a call by name
in a circle is printed with the functions that make it, and the exit
status is 1.

usage: contrib/check-calls.py OBJECT...   (make check passes vsd's objects)
"""
import os
import subprocess
import sys


def symbols(obj):
    defined, used = set(), set()
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in "TDBRC":
            defined.add(fields[2])
        elif len(fields) == 2 and fields[0] == "U":
            used.add(fields[1])
    return defined, used


def cycles(graph):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main(objs):
    if not objs:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    owner, uses = {}, {}
    for obj in objs:
        name = os.path.basename(obj)[: -len(".o")]
        defined, used = symbols(obj)
        for sym in defined:
            owner[sym] = name
        uses[name] = used
    graph = {name: set() for name in uses}
    why = {}
    for name, used in uses.items():
        for sym in used:
            to = owner.get(sym)
            if to and to != name:
                graph[name].add(to)
                why.setdefault((name, to), set()).add(sym)
    bad = cycles(graph)
    for component in bad:
        print("calls in a circle: " + " ".join(component))
        for a in component:
            for b in component:
                if (a, b) in why:
                    print("  %s -> %s: %s" % (a, b, " ".join(sorted(why[(a, b)]))))
    if bad:
        return 1
    print("calls: no file of vsd calls back into a file that calls it (%d files)" % len(objs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
