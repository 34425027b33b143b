"""Run a command with a budget: its own process group, a hard limit, output to a log file.

The tool never holds the run's output in memory: the child writes straight into the log file,
and readers stream it from the end.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.store import sandbox, signals

if TYPE_CHECKING:
    from _typeshed import StrPath

TERM_GRACE_SECONDS = 5.0
# Set in a run's environment, and so inherited by every process it starts: the ones that leave
# its process group for a session of their own (`setsid`, a detached server) still carry it.
RUN_ID_VARIABLE = "AUTORESEARCH_RUN_ID"
_POLL_SECONDS = 0.5
_MAX_LINE_BYTES = 4 * 1024 * 1024


# Where what a run's leftovers wrote to its log after the run ended goes: never read as its.
LATE_SUFFIX = ".late"
_REAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reaper.py")


class RunResult(NamedTuple):
    exit_code: int | None
    seconds: float
    timed_out: bool = False
    interrupted: bool = False
    late: bool = False  # something the run left behind wrote to its log after it ended


class Command(NamedTuple):
    """A command to run: what (a shell string, or an argv), where, where its output goes
    (standard error too, unless ``stderr_path`` names its own file), and its limits."""

    argv: str | Sequence[str]
    cwd: StrPath
    log_path: StrPath
    env: Mapping[str, str]
    kill_after: float | None = None
    run_id: str | None = None  # recorded by the caller first, for a kill of the tool
    stderr_path: StrPath | None = None
    grace: float = TERM_GRACE_SECONDS
    confine: sandbox.Policy | None = None  # run in this sandbox (its checkout: ``cwd``)


def run_command(
    spec: Command,
    on_start: Callable[[int], None] | None = None,
    on_tick: Callable[[float], None] | None = None,
) -> RunResult:
    """Run a command in a new process group, standard input closed.

    Runs and agents alike go through here. At ``kill_after`` seconds the command is terminated
    (SIGTERM, ``grace`` seconds, SIGKILL): its group, and every process that carries its
    ``run_id`` (``new_run_id()`` unless the caller, which must record it first, gives one). On
    KeyboardInterrupt the same and the result says ``interrupted``. Whatever happens, none of
    them outlives this call. Inside ``signals.deferred()`` the command is started with signals
    held, so that it never exists unrecorded, and they act once it runs.
    """
    run_id = spec.run_id or new_run_id()
    env = {**spec.env, RUN_ID_VARIABLE: run_id}
    argv, status = _confined(spec)
    started = time.monotonic()
    process: subprocess.Popen[bytes] | None = None
    try:
        with contextlib.ExitStack() as files:
            log = files.enter_context(open(spec.log_path, "wb"))
            errors = (
                log
                if spec.stderr_path is None
                else files.enter_context(open(spec.stderr_path, "wb"))
            )
            process = subprocess.Popen(
                argv,
                cwd=spec.cwd,
                # An open pipe on stdin makes some programs (codex) wait for input forever.
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=errors,
                env=env,
                start_new_session=True,
                pass_fds=(status.writer,) if status else (),
            )
        if status:
            status.started()
        if on_start is not None:
            on_start(process.pid)
        with signals.allowed():
            code, timed_out = _wait(process, started, spec.kill_after, on_tick)
    except BaseException as error:
        _stop(process, run_id, spec.grace)
        if status:
            status.close()
        if isinstance(error, KeyboardInterrupt):
            return RunResult(None, time.monotonic() - started, interrupted=True)
        raise
    seconds = time.monotonic() - started
    ended_at = _size(spec.log_path)
    # Background children left behind (data loaders, servers, an agent's helpers) must not
    # outlive the command.
    _stop(process, run_id, spec.grace)
    # Once the reaper is gone, its pipe says how long the log was as the main process exited
    # (nothing when it was killed first, at a timeout).
    reported = status.log_size() if status else None
    ended_at = min(ended_at, reported) if reported is not None else ended_at
    late = _set_aside_late_output(spec.log_path, ended_at)
    if timed_out:
        return RunResult(None, seconds, timed_out=True, late=late)
    return RunResult(code, seconds, late=late)


class _Status:
    """The pipe on which the reaper says how long the log was when the main process exited."""

    def __init__(self) -> None:
        self.reader, self.writer = os.pipe()
        self._open = [self.reader, self.writer]

    def started(self) -> None:
        """The reaper holds its end now: the pipe ends when it does."""
        self._close(self.writer)

    def log_size(self) -> int | None:
        self._close(self.writer)
        said = b""
        while chunk := os.read(self.reader, 4096):
            said += chunk
        self.close()
        sizes = [int(word) for word in said.split() if word.isdigit()]
        return sizes[-1] if sizes else None

    def close(self) -> None:
        for fd in list(self._open):
            self._close(fd)

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.remove(fd)
            os.close(fd)


def _confined(spec: Command) -> tuple[list[str], _Status | None]:
    """The command line: in the sandbox when it has one, else under the reaper where there is
    one (Linux), else as it is."""
    argv = ["/bin/sh", "-c", spec.argv] if isinstance(spec.argv, str) else list(spec.argv)
    if spec.confine is not None:
        return sandbox.wrap(spec.confine._replace(checkout=os.fspath(spec.cwd)), argv), None
    if not sys.platform.startswith("linux"):
        return argv, None
    status = _Status()
    reaper = [sys.executable, "-I", "-S", _REAPER, str(status.writer), f"{spec.grace:g}"]
    return [*reaper, *argv], status


def _size(path: StrPath) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _set_aside_late_output(log_path: StrPath, ended_at: int) -> bool:
    """Move what was written to the log after the run ended into its own file; True if any."""
    if _size(log_path) <= ended_at:
        return False
    with open(log_path, "r+b") as log:
        log.seek(ended_at)
        late = log.read()
        log.truncate(ended_at)
    with open(os.fspath(log_path) + LATE_SUFFIX, "wb") as aside:
        aside.write(late)
    return True


def _wait(
    process: subprocess.Popen[bytes],
    started: float,
    kill_after: float | None,
    on_tick: Callable[[float], None] | None,
) -> tuple[int | None, bool]:
    """The exit code, or (None, True) at the limit. Waits in slices so Ctrl-C is noticed."""
    with _exit_notice(process) as exited:
        while True:
            elapsed = time.monotonic() - started
            if kill_after is not None and elapsed >= kill_after:
                return None, True
            wait_for = (
                _POLL_SECONDS
                if kill_after is None
                else min(_POLL_SECONDS, max(kill_after - elapsed, 0.01))
            )
            if exited is not None:
                select.select([exited], [], [], wait_for)
                wait_for = 0.0
            try:
                return process.wait(timeout=wait_for), False
            except subprocess.TimeoutExpired:
                if on_tick is not None:
                    on_tick(time.monotonic() - started)


@contextlib.contextmanager
def _exit_notice(process: subprocess.Popen[bytes]) -> Iterator[int | None]:
    """A descriptor readable once the process exits (Linux), so that its end is seen at once:
    ``Popen.wait`` with a timeout polls in growing sleeps, some 10 to 20 ms late for a short
    run."""
    try:
        notice = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield notice
    finally:
        os.close(notice)


def _stop(process: subprocess.Popen[bytes] | None, run_id: str, grace: float) -> None:
    """Stop every process of the command still alive (when it never started, any process that
    inherited its id), and reap it."""
    group = process.pid if process is not None else None
    if run_alive(group, run_id):
        kill_run(group, run_id, grace)
    if process is not None:
        process.wait()


def new_run_id() -> str:
    """Unique to one run: this process and the moment."""
    return f"{os.getpid()}-{time.time_ns()}"


def kill_recorded(inflight: Mapping[str, object]) -> bool:
    """Stop what is left of a run known from an in-flight file's ``group`` and ``run_id`` (those of
    a tool that was killed); True when something of it was still alive."""
    group, run_id = inflight.get("group"), inflight.get("run_id")
    run_id = run_id if isinstance(run_id, str) else None
    group = group if isinstance(group, int) else None  # killed before the run started
    if group is not None and (run_id is None or group not in carrying(run_id)):
        # A file anyone can write could name anyone's process group: it is the run's only
        # while its leader carries the run's id (else what is left carries the id itself).
        group = None
    if (group is None and run_id is None) or not run_alive(group, run_id):
        return False
    kill_run(group, run_id)
    return True


def run_alive(group: int | None, run_id: str | None) -> bool:
    """Whether any process of the run is alive: in its group, or carrying its id."""
    return (group is not None and group_alive(group)) or bool(run_id and carrying(run_id))


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


def kill_run(group: int | None, run_id: str | None, grace: float = TERM_GRACE_SECONDS) -> None:
    """SIGTERM the run's processes, wait up to ``grace`` seconds, then SIGKILL what is left."""
    if not _signal_run(group, run_id, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    # Most are gone a millisecond after SIGTERM: after nearly every sandboxed run, bubblewrap's
    # first process is still tearing its namespace down when the run ends. A first look 50 ms
    # later cost 12 of 30 tries those 50 ms.
    pause = 0.001
    try:
        while time.monotonic() < deadline:
            if not run_alive(group, run_id):
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    except KeyboardInterrupt:
        pass  # a second Ctrl-C means: do not wait for the grace period
    _signal_run(group, run_id, signal.SIGKILL)
    while run_alive(group, run_id) and time.monotonic() < deadline + grace:
        time.sleep(0.02)


def _signal_run(group: int | None, run_id: str | None, signum: int) -> bool:
    """Signal the run's group and the processes carrying its id; False if there were none."""
    signalled = False
    if group is not None:
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
            # A system call where reading each process's stat file cost 1.8 ms a scan, and
            # after a sandboxed run (bubblewrap's first process still exiting) `try` scans twice.
            if os.getpgid(int(entry.name)) != group:
                continue
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
