#!/usr/bin/env python3
"""A relay from a test's network namespace to a Debian archive.

Tests run vsd (and its VPS) in a network namespace of their own, with no
route out. This relay opens its listening socket inside that namespace (by
setns into it, then back) and makes its outgoing connections from the
namespace it was started in, to one archive host only (deb.debian.org:80 by
default). Pointed at as an HTTP proxy (http_proxy=http://ADDR:PORT),
debootstrap and apt send absolute-form requests, which the archive's
servers accept as they are: the relay forwards bytes and reads nothing.

Usage: archive_relay.py --netns FILE --port-file FILE [--bind ADDR]
                        [--upstream HOST:PORT]
Writes the port it listens on to --port-file once it accepts; runs until
killed.
"""
import argparse
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: " + os.strerror(err))


def listen_in(netns_path, addr):
    """A listening socket in netns_path; this thread returns to its own."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns_path, os.O_RDONLY)
    try:
        setns(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((addr, 0))
            sock.listen(64)
        finally:
            setns(own)
    finally:
        os.close(own)
        os.close(target)
    return sock


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def serve(client, upstream):
    try:
        remote = socket.create_connection(upstream, timeout=20)
        remote.settimeout(None)
    except OSError:
        client.close()
        return
    back = threading.Thread(target=pipe, args=(remote, client), daemon=True)
    back.start()
    pipe(client, remote)
    back.join()
    client.close()
    remote.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--netns", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--upstream", default="deb.debian.org:80")
    args = ap.parse_args()
    host, _, port = args.upstream.rpartition(":")
    upstream = (host, int(port))
    sock = listen_in(args.netns, args.bind)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % sock.getsockname()[1])
    os.rename(tmp, args.port_file)
    while True:
        client, _ = sock.accept()
        threading.Thread(target=serve, args=(client, upstream), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
