#!/usr/bin/env python3
"""A socket client for hand-written requests to vsd.

vsd speaks one JSON object per SOCK_SEQPACKET message on ROOT/run/paene/vsd.sock
(protocol/protocol.c): {"version":1,"cmd":...,"name":...,"args":{...}}, answered
by {"version":1,"ok":true,...} or {"version":1,"ok":false,"kind":...,
"errno":...,"error":...}, with fds passed as SCM_RIGHTS. vsctl only ever sends
well-formed values; this sends whatever the test wrote, byte for byte.

As a library: request(sock, text_or_object) -> the first reply (a dict), or
None when vsd closed the connection without one. Passed fds are closed.

As a command:
    vsreq.py SOCK 'JSON TEXT'          sends the text as it is, prints the reply
    vsreq.py --brief SOCK 'JSON TEXT'  prints four lines: ok, kind, the error
                                       (its line breaks as \\n) and how many
                                       lines the error has
Exits 0 with a reply, 3 when the connection closed without one.
"""

import array
import json
import os
import socket
import sys

MSG_MAX = 1 << 20  # VS_MSG_MAX
FDS_MAX = 4  # VS_MSG_FDS_MAX
VERSION = 1  # VS_PROTOCOL_VERSION


def encode(obj):
    """The request as bytes; a str or bytes is sent as it is."""
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, str):
        return obj.encode("utf-8", "surrogateescape")
    return json.dumps(obj, separators=(",", ":")).encode()


def make(cmd, name=None, args=None, **top):
    """A well-formed request, to be broken by the caller."""
    req = {"version": VERSION, "cmd": cmd}
    if name is not None:
        req["name"] = name
    req["args"] = {} if args is None else args
    req.update(top)
    return req


def _close_fds(ancdata):
    for level, kind, data in ancdata:
        if level != socket.SOL_SOCKET or kind != socket.SCM_RIGHTS:
            continue
        fds = array.array("i")
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def request(sock_path, obj, timeout=60.0):
    """Sends one request, returns the first reply as a dict (None at EOF)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(encode(obj))
        data, ancdata, _, _ = s.recvmsg(
            MSG_MAX + 1, socket.CMSG_SPACE(FDS_MAX * array.array("i").itemsize)
        )
        _close_fds(ancdata)
        if not data:
            return None
        return json.loads(data.decode("utf-8", "surrogateescape"))


def brief(reply):
    error = reply.get("error")
    error = error if isinstance(error, str) else ""
    return "\n".join(
        [
            json.dumps(reply.get("ok")),
            str(reply.get("kind")),
            error.replace("\\", "\\\\").replace("\n", "\\n"),
            str(len(error.splitlines())),
        ]
    )


def main(argv):
    short = len(argv) > 1 and argv[1] == "--brief"
    if short:
        argv = argv[:1] + argv[2:]
    if len(argv) != 3:
        sys.stderr.write("usage: vsreq.py [--brief] SOCK 'JSON TEXT'\n")
        return 2
    reply = request(argv[1], argv[2])
    if reply is None:
        sys.stderr.write("vsreq: vsd closed the connection without a reply\n")
        return 3
    print(brief(reply) if short else json.dumps(reply, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
