"""The one line at the foot of a terminal that says what is happening now.

`try` and `loop` show it only when their output is a terminal: the agent at work and for how
long, or the run with its time against the budget, the repeat it is on and the last line its log
printed. Neither an agent nor a run says when something changes, so a thread of its own redraws
the line twice a second. Nothing of it reaches a pipe or a file; ``NO_COLOR`` turns its dimming
off.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import NamedTuple, TextIO

from autoresearch.engine.measure import Watch
from autoresearch.reports.terminal import duration
from autoresearch.rules.settings import Settings
from autoresearch.store.runner import tail

REDRAW_SECONDS = 0.5
CLEAR_LINE = "\r\033[K"
_DIM, _PLAIN = "\033[2m", "\033[0m"
# Colour and cursor codes a run printed into its log, kept out of the line.
_TERMINAL_CODE = r"\x1b\[[0-?]*[ -/]*[@-~]"


class Phase(NamedTuple):
    """What is happening: an agent at work (no log), or a run (its log, its repeats)."""

    label: str
    started: float
    budget: float | None = None
    log: str | None = None
    run: int = 0
    max_runs: int = 1


def most_runs(settings: Settings) -> int:
    """The most runs one candidate may get (a noise-aware baseline runs twice)."""
    if settings.noise == "off":
        return 1
    return max(settings.repeats, 2 if settings.noise == "auto" else 1)


def wants_colour(env: Mapping[str, str]) -> bool:
    """As https://no-color.org asks: any non-empty NO_COLOR turns colour off."""
    return not env.get("NO_COLOR") and env.get("TERM") != "dumb"


def last_log_line(path: str) -> str:
    """The last thing a run printed: the last screen of a progress bar, without its codes."""
    try:
        lines = tail(path, 1, max_chars=4000)
    except OSError:
        return ""
    if not lines:
        return ""
    segments = [s for s in lines[-1].split("\r") if s.strip()]
    text = segments[-1] if segments else ""
    if "\x1b" in text:
        text = re.sub(_TERMINAL_CODE, "", text)
    return " ".join(text.split())


def phase_text(phase: Phase, now: float) -> str:
    """The line for a phase: label, elapsed time (against the budget), repeat, last log line."""
    text = f"{phase.label} {duration(now - phase.started)}"
    if phase.log is None:
        return text
    if phase.budget:
        text += f" / {duration(phase.budget)}"
    if phase.run > 1:
        text += f" · repeat {phase.run} of up to {max(phase.max_runs, phase.run)}"
    last = last_log_line(phase.log)
    return f"{text} · {last}" if last else text


class Progress:
    """The live line of one command. Every other line it prints goes through ``say``."""

    def __init__(self, stream: TextIO, colour: bool) -> None:
        self.stream = stream
        self.colour = colour
        self._phase: Phase | None = None
        self._drawn = ""
        # Reentrant: a signal handler may print a note while the main thread holds it.
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_terminal(cls, stream: TextIO | None = None) -> Progress | None:
        """A progress line when ``stream`` (stdout) is a terminal, else None."""
        stream = stream or sys.stdout
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls(stream, wants_colour(os.environ)) if tty else None

    def working(self, label: str) -> None:
        """Something without a log is under way, such as an agent's turn."""
        self._show(Phase(label, time.monotonic()))

    def watch(self, label: str, budget: float | None, log: str, max_runs: int) -> Watch:
        """The hook for a run: each run of the candidate restarts the clock and counts a repeat."""
        runs = 0

        def started(_group: int) -> None:
            nonlocal runs
            runs += 1
            self._show(Phase(label, time.monotonic(), budget, log, runs, max_runs))

        return Watch(on_start=started)

    def say(self, text: str) -> None:
        """Print a line of output in place of the live line, which waits for the next phase."""
        with self._lock:
            self._phase = None
            self._erase()
            self.stream.write(text + "\n")
            self.stream.flush()

    def note(self, text: str) -> None:
        """Print a line above the live line, which goes on."""
        with self._lock:
            self._erase()
            self.stream.write(text + "\n")
            self._draw()
            self.stream.flush()

    def close(self) -> None:
        """Stop redrawing and leave the line empty."""
        self._stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._phase = None
            self._erase()
            self.stream.flush()

    def _show(self, phase: Phase) -> None:
        with self._lock:
            self._phase = phase
            self._draw()
        if self._thread is None:
            self._thread = threading.Thread(target=self._redraw, name="progress", daemon=True)
            self._thread.start()

    def _redraw(self) -> None:
        while not self._stopped.wait(REDRAW_SECONDS):
            with self._lock:
                try:
                    self._draw()
                except (OSError, ValueError):  # the terminal went away: the command goes on
                    return

    def _draw(self) -> None:
        if self._phase is None or self._stopped.is_set():
            return
        text = phase_text(self._phase, time.monotonic())[: self._width() - 1]
        if text == self._drawn:
            return
        shown = f"{_DIM}{text}{_PLAIN}" if self.colour else text
        self.stream.write(CLEAR_LINE + shown)
        self.stream.flush()
        self._drawn = text

    def _erase(self) -> None:
        if self._drawn:
            self.stream.write(CLEAR_LINE)
            self._drawn = ""

    def _width(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80
