"""What the terminal drivers (pty_drive.py, console_drive.py) share: a
command on a real pseudo-terminal, read until expected text appears,
bounded in time, and typed into."""
import os
import pty
import select
import sys
import time


def scaled(seconds):
    """A bound on time, on this machine: PAENE_TIME_SCALE times SECONDS
    (tests/integration/lib.sh says why and checks the value)."""
    return seconds * int(os.environ.get("PAENE_TIME_SCALE", "1"))


class Terminal:
    def __init__(self, argv, deadline, before_exec=None):
        self.deadline = deadline
        self.seen = b""
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            if before_exec:
                before_exec()
            os.execv(argv[0], argv)

    def _read_more(self, what, end, needles):
        left = end - time.monotonic()
        if left <= 0:
            sys.exit(f"FAIL {what}: {needles!r} not seen in {self.seen[-400:]!r}")
        ready, _, _ = select.select([self.master], [], [], left)
        if not ready:
            return
        try:
            chunk = os.read(self.master, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            sys.exit(f"FAIL {what}: terminal closed; saw {self.seen[-400:]!r}")
        self.seen += chunk

    def expect_any(self, needles, what):
        """Reads until one of needles appears; returns the first one on the
        terminal and forgets what came before its end."""
        end = time.monotonic() + self.deadline
        while not any(n.encode() in self.seen for n in needles):
            self._read_more(what, end, needles)
        found = min((n for n in needles if n.encode() in self.seen),
                    key=lambda n: self.seen.index(n.encode()))
        self.seen = self.seen[self.seen.index(found.encode()) + len(found):]
        return found

    def expect(self, needle, what):
        self.expect_any([needle], what)

    def send(self, text):
        os.write(self.master, text.encode())

    def exit_code(self):
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)
