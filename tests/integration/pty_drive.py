#!/usr/bin/env python3
"""Drives `vsctl enter NAME` on a real pseudo-terminal, like a person at a
terminal: checks the window size, a command's output, Ctrl-C, a resize and
the exit status. Usage: pty_drive.py VSCTL ROOT NAME. Exit 0 when all held."""
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

vsctl, root, name = sys.argv[1:4]
DEADLINE = 20.0


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


pid, master = pty.fork()
if pid == 0:
    set_size(0, 33, 101)
    os.execv(vsctl, [vsctl, "--root", root, "enter", name])

seen = b""


def expect(needle, what):
    """Reads until needle appears, bounded in time."""
    global seen
    end = time.monotonic() + DEADLINE
    while needle.encode() not in seen:
        left = end - time.monotonic()
        if left <= 0:
            sys.exit(f"FAIL {what}: {needle!r} not seen in {seen[-400:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                sys.exit(f"FAIL {what}: terminal closed; saw {seen[-400:]!r}")
            seen += chunk
    seen = seen[seen.index(needle.encode()) + len(needle):]


def send(text):
    os.write(master, text.encode())


def in_vps(*cmd):
    return subprocess.run([vsctl, "--root", root, "exec", name, "--", *cmd],
                          capture_output=True, text=True).stdout


expect("# ", "a shell prompt")
send("stty size; echo size-done\n")
expect("33 101", "initial window size")
send("echo $((6*7))x\n")
expect("42x", "command output")
send("tty\n")
expect("/dev/pts/", "the shell has a terminal from the VPS's devpts")
send("sleep 30; echo slept-through\n")
end = time.monotonic() + DEADLINE
while "sleep 30" not in in_vps("ps", "-o", "args"):
    if time.monotonic() > end:
        sys.exit("FAIL: sleep never started")
    time.sleep(0.05)
send("\x03")
send("echo after-int\n")
expect("after-int", "Ctrl-C interrupted the foreground command")
if b"slept-through" in seen:
    sys.exit("FAIL: sleep was not interrupted")
set_size(master, 40, 120)
send("stty size\n")
expect("40 120", "window resize reaches the VPS")
send("exit 5\n")
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code != 5:
    sys.exit(f"FAIL: vsctl enter exited {code}, expected 5")
print("pty: all held")
