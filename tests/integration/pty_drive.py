#!/usr/bin/env python3
"""Drives `vsctl enter NAME` on a real pseudo-terminal, like a person at a
terminal: checks the window size, a command's output, Ctrl-C, a resize and
the exit status. Usage: pty_drive.py VSCTL ROOT NAME. Exit 0 when all held."""
import fcntl
import struct
import subprocess
import sys
import termios
import time

from ptylib import Terminal, scaled

vsctl, root, name = sys.argv[1:4]
DEADLINE = scaled(20.0)


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


term = Terminal([vsctl, "--root", root, "enter", name], DEADLINE,
                before_exec=lambda: set_size(0, 33, 101))
expect, send = term.expect, term.send


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
if b"slept-through" in term.seen:
    sys.exit("FAIL: sleep was not interrupted")
set_size(term.master, 40, 120)
send("stty size\n")
expect("40 120", "window resize reaches the VPS")
send("exit 5\n")
code = term.exit_code()
if code != 5:
    sys.exit(f"FAIL: vsctl enter exited {code}, expected 5")
print("pty: all held")
