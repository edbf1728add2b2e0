#!/usr/bin/env python3
"""Holds connections to vsd open without sending a request, as an idle or
abusive client would.

    holdconn.py SOCK N READY RELEASE [TIMEOUT]

Connects N times to SOCK, then creates the file READY and waits (at most
TIMEOUT seconds, default 60) for the file RELEASE to exist. Then it reads
what vsd sent on each connection without waiting and prints one line:
"busy=B timeout=T other=O silent=S closed=C": refusals for a cap, replies
for client_timeout, other replies, connections with nothing to read, and
connections vsd closed without a word. Exits 1 when a connect failed.
With HOLD_ANSWERED=FILE in its environment it also creates FILE once every
connection has something to read or was closed (vsd answered them all), so
that a test can wait for vsd's answers rather than for its descriptors: a
connection still in the listen backlog is not one of vsd's descriptors yet.
"""

import json
import os
import select
import socket
import sys
import time


def first_message(sock):
    try:
        data = sock.recv(1 << 16, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return "silent"
    except OSError:
        return "closed"
    if not data:
        return "closed"
    try:
        reply = json.loads(data)
    except ValueError:
        return "other"
    error = str(reply.get("error", ""))
    if reply.get("kind") == "state" and error.startswith("busy:"):
        return "busy"
    if "client_timeout" in error:
        return "timeout"
    return "other"


def main():
    path, count, ready, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    limit = float(sys.argv[5]) if len(sys.argv) > 5 else 60.0
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(path)
        except OSError as e:
            print("connect: %s" % e, file=sys.stderr)
            return 1
        socks.append(s)
    open(ready, "w").close()
    deadline = time.monotonic() + limit
    answered = os.environ.get("HOLD_ANSWERED")
    while not os.path.exists(release) and time.monotonic() < deadline:
        if answered and len(select.select(socks, [], [], 0)[0]) == len(socks):
            open(answered, "w").close()
            answered = None
        time.sleep(0.05)
    counts = {"busy": 0, "timeout": 0, "other": 0, "silent": 0, "closed": 0}
    for s in socks:
        counts[first_message(s)] += 1
        s.close()
    print(" ".join("%s=%d" % (k, counts[k]) for k in counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
