"""Run a command with a budget: its own process group, a hard limit, output to a log file.

The tool never holds the run's output in memory: the child writes straight into the log file,
and readers stream it from the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from _typeshed import StrPath

TERM_GRACE_SECONDS = 5.0
# Set in a run's environment, and so inherited by every process it starts: the ones that leave
# its process group for a session of their own (`setsid`, a detached server) still carry it.
RUN_ID_VARIABLE = "AUTORESEARCH_RUN_ID"
_POLL_SECONDS = 0.5
_MAX_LINE_BYTES = 4 * 1024 * 1024


class RunResult(NamedTuple):
    exit_code: int | None
    seconds: float
    timed_out: bool = False
    interrupted: bool = False


def run_command(
    command: str,
    cwd: StrPath,
    log_path: StrPath,
    env: Mapping[str, str],
    kill_after: float | None = None,
    on_start: Callable[[int], None] | None = None,
    on_tick: Callable[[float], None] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Run a shell command in a new process group with output to ``log_path``.

    At ``kill_after`` seconds the run is terminated (SIGTERM, grace, SIGKILL): its group, and
    every process that carries its ``run_id`` (``new_run_id()`` unless the caller, which must
    record it, gives one). On KeyboardInterrupt the same and the result says ``interrupted``.
    Whatever happens, none of them outlives this call.
    """
    run_id = run_id or new_run_id()
    env = {**env, RUN_ID_VARIABLE: run_id}
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )
    group = process.pid
    try:
        if on_start is not None:
            on_start(group)
        while True:
            elapsed = time.monotonic() - started
            if kill_after is not None and elapsed >= kill_after:
                kill_run(group, run_id)
                process.wait()
                return RunResult(None, time.monotonic() - started, timed_out=True)
            wait_for = (
                _POLL_SECONDS
                if kill_after is None
                else min(_POLL_SECONDS, max(kill_after - elapsed, 0.01))
            )
            try:
                code = process.wait(timeout=wait_for)
                break
            except subprocess.TimeoutExpired:
                if on_tick is not None:
                    on_tick(time.monotonic() - started)
    except KeyboardInterrupt:
        kill_run(group, run_id)
        process.wait()
        return RunResult(None, time.monotonic() - started, interrupted=True)
    seconds = time.monotonic() - started
    # Background children left behind (data loaders, servers) must not outlive the run.
    if run_alive(group, run_id):
        kill_run(group, run_id)
    return RunResult(code, seconds)


def new_run_id() -> str:
    """Unique to one run: this process and the moment."""
    return f"{os.getpid()}-{time.time_ns()}"


def kill_recorded(record: Mapping[str, object]) -> bool:
    """Stop what is left of a run known from a record of its ``group`` and ``run_id`` (those of
    a tool that was killed); True when something of it was still alive."""
    group, run_id = record.get("group"), record.get("run_id")
    run_id = run_id if isinstance(run_id, str) else None
    if not isinstance(group, int) or not run_alive(group, run_id):
        return False
    kill_run(group, run_id)
    return True


def run_alive(group: int, run_id: str | None) -> bool:
    """Whether any process of the run is alive: in its group, or carrying its id."""
    return group_alive(group) or bool(run_id and carrying(run_id))


def carrying(run_id: str) -> list[int]:
    """The live processes whose environment holds this run id (those of other users aside)."""
    needle = f"\0{RUN_ID_VARIABLE}={run_id}\0".encode()
    found = []
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "environ"), "rb") as file:
                environment = b"\0" + file.read()  # empty for a zombie
        except OSError:
            continue
        if needle in environment or environment.endswith(needle[:-1]):
            found.append(int(entry.name))
    return found


def kill_run(group: int, run_id: str | None, grace: float = TERM_GRACE_SECONDS) -> None:
    """SIGTERM the run's processes, wait up to ``grace`` seconds, then SIGKILL what is left."""
    if not _signal_run(group, run_id, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    try:
        while time.monotonic() < deadline:
            if not run_alive(group, run_id):
                return
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass  # a second Ctrl-C means: do not wait for the grace period
    _signal_run(group, run_id, signal.SIGKILL)
    while run_alive(group, run_id) and time.monotonic() < deadline + grace:
        time.sleep(0.02)


def _signal_run(group: int, run_id: str | None, signum: int) -> bool:
    """Signal the run's group and the processes carrying its id; False if there were none."""
    signalled = False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)
        signalled = True
    for pid in carrying(run_id) if run_id else ():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
            signalled = True
    return signalled


def group_alive(group: int) -> bool:
    """Whether any live (non-zombie) process is still in the process group."""
    try:
        os.killpg(group, 0)
        may_signal = True
    except ProcessLookupError:
        return False  # the usual case after a run: nothing left, no need to scan /proc
    except PermissionError:
        may_signal = False
    if not os.path.isdir("/proc"):
        return may_signal
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(os.path.join(entry.path, "stat"), encoding="utf-8", errors="replace") as file:
                stat = file.read()
        except OSError:
            continue
        # Fields after the command name, which may itself contain spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(group) and fields[0] not in ("Z", "X"):
            return True
    return False


def lines_from_end(path: StrPath, block_size: int = 65536) -> Iterator[str]:
    """The file's lines, last first, read backwards in blocks; undecodable bytes replaced."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        remainder = b""
        while position > 0:
            step = min(block_size, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step) + remainder
            lines = chunk.split(b"\n")
            remainder = lines[0]
            if len(remainder) > _MAX_LINE_BYTES:
                # A giant line without breaks: give it out in pieces to keep memory flat.
                lines.insert(1, remainder)
                remainder = b""
            for line in reversed(lines[1:]):
                yield line.decode("utf-8", errors="replace")
        yield remainder.decode("utf-8", errors="replace")


def tail(path: StrPath, count: int = 50, max_chars: int = 400) -> list[str]:
    """The last ``count`` non-empty lines of a file, each cut to ``max_chars``."""
    lines: list[str] = []
    if not os.path.exists(path):
        return lines
    for line in lines_from_end(path):
        if line.strip():
            lines.append(line.rstrip("\r")[:max_chars])
            if len(lines) >= count:
                break
    return list(reversed(lines))
