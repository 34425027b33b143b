"""Signals held back while the tool keeps its books, and let through while a run goes.

Ctrl-C, SIGTERM or SIGHUP between the commit and the in-flight file, or between the ledger row
and the keep ref's move, would leave an experiment half written. Inside ``deferred()`` such a
signal is noted and acted on when the section ends, by the handler that was in place before
(a stop request, or KeyboardInterrupt). ``allowed()`` opens the window in which a signal acts at
once: the run, which a Ctrl-C must be able to stop.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Deferral:
    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.pending: list[int] = []

    def hold(self, signum: int, _frame: FrameType | None) -> None:
        self.pending.append(signum)

    def install(self) -> None:
        for signum in self.previous:
            signal.signal(signum, self.hold)

    def uninstall(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)

    def deliver(self) -> None:
        """Act on the held signals, in order, with the handlers in place before the section."""
        while self.pending:
            signal.raise_signal(self.pending.pop(0))


_active: list[_Deferral] = []


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends (a no-op off the main thread, where
    Python delivers no signal, and for a signal the process ignores)."""
    if threading.current_thread() is not threading.main_thread() or _active:
        yield
        return
    deferral = _Deferral()
    for signum in HELD:
        handler = signal.getsignal(signum)
        if handler is not signal.SIG_IGN:
            deferral.previous[signum] = handler
    deferral.install()
    _active.append(deferral)
    try:
        yield
    finally:
        _active.pop()
        deferral.uninstall()
        deferral.deliver()


@contextlib.contextmanager
def allowed() -> Iterator[None]:
    """Inside ``deferred()``: let signals act at once for the block, first those held so far.
    Off the main thread (a worker of a parallel loop) there is nothing to let through."""
    if not _active or threading.current_thread() is not threading.main_thread():
        yield
        return
    deferral = _active[-1]
    deferral.uninstall()
    try:
        deferral.deliver()
        yield
    finally:
        deferral.install()
