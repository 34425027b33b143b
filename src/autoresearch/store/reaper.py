"""Runs a command as the reaper of everything it starts, for a run outside the sandbox (Linux).

Run as a script (``python -I -S reaper.py STATUS_FD GRACE COMMAND...``, so that it imports
nothing of the tool's and starts in milliseconds), it makes itself the subreaper of its
descendants: a process that leaves the command's group and environment (``setsid``, ``env -u``,
a double fork) is still adopted by it. When the command's main process exits, it writes the
size the log (its standard output) had at that moment to STATUS_FD, so that nothing written
later is read as the run's, then stops every descendant left (SIGTERM, GRACE seconds,
SIGKILL) and exits as the command did.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

_PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> None:
    status_fd, grace, command = int(argv[1]), float(argv[2]), argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        os.write(status_fd, b"no-subreaper\n")
    # The runner signals the whole group: the command gets it and decides; this one stays to
    # clean up after it.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    main_pid = os.fork()
    if main_pid == 0:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        os.close(status_fd)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    status = _wait_for(main_pid)
    try:
        size = os.fstat(1).st_size
    except OSError:
        size = -1
    os.write(status_fd, f"{size}\n".encode())
    os.close(status_fd)
    _stop_descendants(grace)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    sys.exit(os.waitstatus_to_exitcode(status))


def _wait_for(main_pid: int) -> int:
    """The main process's wait status; adopted processes that end meanwhile are reaped."""
    while True:
        pid, status = os.wait()
        if pid == main_pid:
            return status


def _stop_descendants(grace: float) -> None:
    left = _descendants()
    _signal(left, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        _reap()
        time.sleep(0.02)
        left = _descendants()
    while left:
        _signal(left, signal.SIGKILL)
        _reap()
        time.sleep(0.01)
        left = _descendants()


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _descendants() -> list[int]:
    """The live processes below this one (zombies are as good as gone)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as file:
                stat = file.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[0] not in ("Z", "X"):
            parents.setdefault(int(fields[1]), []).append(int(name))
    found, frontier = [], [os.getpid()]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found += children
        frontier += children
    return found


if __name__ == "__main__":
    main(sys.argv)
