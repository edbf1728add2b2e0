#!/usr/bin/env python3
"""Drives `vsctl console NAME` on a real pseudo-terminal as an admin would:
logs in at the getty with a password, runs a command, and detaches with
Ctrl-]. With a vsd pid file as 5th argument, kills that vsd (SIGKILL) once
logged in, and checks that the console goes on working without it.
Usage: console_drive.py VSCTL ROOT NAME PASSWORD [VSD_PIDFILE].
Exit 0 when all held."""
import os
import signal
import sys
import time

from ptylib import Terminal, scaled

vsctl, root, name, password = sys.argv[1:5]
vsd_pidfile = sys.argv[5] if len(sys.argv) > 5 else None
DEADLINE = scaled(30.0)

term = Terminal([vsctl, "--root", root, "console", name], DEADLINE)
expect, expect_any, send = term.expect, term.expect_any, term.send

expect("Ctrl-] to detach", "the attach banner")
# the getty printed its prompt before we came: a new line makes a new one
send("\r")
# a session an earlier attach left logged in goes on where it was
if expect_any(["login: ", "# "], "a login prompt") == "login: ":
    send("root\r")
    expect("Password: ", "a password prompt")
    send(password + "\r")
    expect("# ", "a root shell after the login")
send("tty\r")
expect("/dev/console", "the shell runs on the VPS's console")
if vsd_pidfile:
    with open(vsd_pidfile) as f:
        vsd = int(f.read().strip())
    os.kill(vsd, signal.SIGKILL)
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        try:
            with open(f"/proc/{vsd}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        sys.exit(f"FAIL: vsd {vsd} did not die")
    send("echo without-vsd-$((6*7))\r")
    expect("without-vsd-42", "the console works while vsd is down")
else:
    send("echo marker-$((6*7))\r")
    expect("marker-42", "command output on the console")
send("\x1d")
code = term.exit_code()
if code != 0:
    sys.exit(f"FAIL: vsctl console exited {code} after Ctrl-], expected 0")
print("console: all held")
