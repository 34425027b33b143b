"""Read metrics from the lines of a run log. Pure: the caller supplies the lines, newest first.

A user's pattern is compiled by the `regex` package, whose matching takes a time limit: one that
backtracks without end on one long line (``^(?:a+)+$`` and a line of a's ending in ``!``) would
hold `re` for hours, deaf to Ctrl-C. With `regex` such a line ends the reading, and says so. The
tool's own patterns (``default_pattern``) match in time linear in the line, so they stay `re`'s:
most sessions then never import `regex` (some 12 ms of every command's start).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple, Union

if TYPE_CHECKING:
    import regex

# The compiled form of a metric's pattern: the tool's own in `re`, a user's in `regex` (which
# takes `re`'s syntax).
Pattern = Union[re.Pattern[str], "regex.Pattern[str]"]

# A default pattern needs well under a second on the longest line a log gives out (4 MiB); a
# line that holds one pattern longer is backtracking, not reading.
LINE_SECONDS = 5.0
# All the matching of one run log: past this the reading stops too, so that many slow lines do
# not add up to the hang one slow line no longer can.
LOG_SECONDS = 60.0

# A terminal colour or style code (CSI sequence). Libraries that force colour into a log file would
# otherwise hide `val_loss: 0.5` behind `\x1b[32m`. Text, compiled on first use by `re`'s cache.
TERMINAL_CODE = r"\x1b\[[0-?]*[ -/]*[@-~]"


class Reading(NamedTuple):
    """A metric as found in the log: a finite value, or the reason there is none."""

    value: float | None
    problem: str | None = None


class Limits(NamedTuple):
    """How long matching may take: on one line, and on the whole log."""

    line_seconds: float = LINE_SECONDS
    log_seconds: float = LOG_SECONDS


LIMITS = Limits()


def default_pattern(name: str) -> Pattern:
    """``NAME: <number>`` at the start of a line, or ``METRIC NAME=<number>`` anywhere."""
    escaped = re.escape(name)
    return re.compile(rf"^\s*{escaped}:\s*(\S+)|METRIC\s+{escaped}=(\S+)")


def compile_pattern(pattern: str) -> Pattern:
    """A user's regex, as the reading will match it: must compile and have a capture group.
    Raises ValueError saying why not."""
    import regex

    try:
        compiled = regex.compile(pattern)
    except regex.error as error:
        raise ValueError(str(error)) from None
    if compiled.groups < 1:
        raise ValueError(f"pattern {pattern!r} has no capture group")
    return compiled


def parse_value(text: str) -> Reading:
    try:
        value = float(text.strip().rstrip(",;%"))  # "accuracy: 93.5%" is 93.5
    except ValueError:
        return Reading(None, f"unparsable value {text.strip()[:40]!r}")
    if not math.isfinite(value):
        return Reading(None, f"value is {value}")
    return Reading(value)


def _captured(match: re.Match[str]) -> str:
    return next(group for group in match.groups() if group is not None)


def read_metrics(
    lines_newest_first: Iterable[str],
    patterns: Mapping[str, Pattern],
    limits: Limits = LIMITS,
) -> dict[str, Reading]:
    """For each metric, the last line matching its pattern decides (the last print wins).

    A run that prints progress with carriage returns writes several screens on one line; each
    segment is a line of its own here, read without its terminal colour codes. Stops reading as
    soon as every metric is found, so a huge log is read only from its end.

    A line that a pattern cannot be matched on within ``limits`` stops the reading: every metric
    not found yet has that as its problem, never a value from an earlier line, which would let a
    line printed before it (a forged one) win.
    """
    found: dict[str, Reading] = {}
    wanted = dict(patterns)
    deadline = time.monotonic() + limits.log_seconds
    number = 0  # of the line, from the end as a person counts: not the nothing after a last \n
    for line in lines_newest_first:
        number += 1 if line or number else 0
        for segment in reversed(line.rstrip("\r\n").split("\r")):
            if "\x1b" in segment:
                segment = re.sub(TERMINAL_CODE, "", segment)
            for name, pattern in list(wanted.items()):
                left = deadline - time.monotonic()
                try:
                    if left <= 0:  # a search that fails fast never looks at its time limit
                        raise TimeoutError
                    match = _search(pattern, segment, min(limits.line_seconds, left))
                except TimeoutError:
                    problem = _timed_out(name, number, left <= limits.line_seconds, limits)
                    return {**found, **dict.fromkeys(wanted, Reading(None, problem))}
                if match:
                    reading = parse_value(_captured(match))
                    # Which metric it was: a crash's reason names it.
                    problem = reading.problem and f"{name}: {reading.problem}"
                    found[name] = reading._replace(problem=problem)
                    del wanted[name]
            if not wanted:
                return found
    for name, pattern in wanted.items():
        found[name] = Reading(None, _not_found(name, pattern))
    return found


def _search(pattern: Pattern, segment: str, seconds: float) -> re.Match[str] | None:
    if isinstance(pattern, re.Pattern):  # the tool's own: linear in the line
        return pattern.search(segment)
    # Released while it matches, so another thread (the one that takes a Ctrl-C) goes on
    # meanwhile.
    return pattern.search(segment, timeout=seconds, concurrent=True)


def _timed_out(name: str, line: int, whole_log: bool, limits: Limits) -> str:
    where = f"line {line} from the end of the run log"
    if whole_log:
        return f"reading the run log's metrics took over {limits.log_seconds:g} s (at {where})"
    return f"matching the {name} pattern timed out after {limits.line_seconds:g} s on {where}"


def _not_found(name: str, pattern: Pattern) -> str:
    """Says what was looked for: a run printing ``val_loss=0.5`` learns the expected form."""
    if pattern.pattern == default_pattern(name).pattern:
        return f"no '{name}: <number>' line in the run log"
    return f"no line of the run log matches the {name} pattern"
