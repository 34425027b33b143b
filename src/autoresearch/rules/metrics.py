"""Read metrics from the lines of a run log. Pure: the caller supplies the lines, newest first."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

# A terminal colour or style code (CSI sequence). Libraries that force colour into a log file would
# otherwise hide `val_loss: 0.5` behind `\x1b[32m`. Text, compiled on first use by `re`'s cache.
TERMINAL_CODE = r"\x1b\[[0-?]*[ -/]*[@-~]"


class Reading(NamedTuple):
    """A metric as found in the log: a finite value, or the reason there is none."""

    value: float | None
    problem: str | None = None


def default_pattern(name: str) -> re.Pattern[str]:
    """``NAME: <number>`` at the start of a line, or ``METRIC NAME=<number>`` anywhere."""
    escaped = re.escape(name)
    return re.compile(rf"^\s*{escaped}:\s*(\S+)|METRIC\s+{escaped}=(\S+)")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A user's regex: must compile and have at least one capture group."""
    compiled = re.compile(pattern)
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
    lines_newest_first: Iterable[str], patterns: Mapping[str, re.Pattern[str]]
) -> dict[str, Reading]:
    """For each metric, the last line matching its pattern decides (the last print wins).

    A run that prints progress with carriage returns writes several screens on one line; each
    segment is a line of its own here, read without its terminal colour codes. Stops reading as
    soon as every metric is found, so a huge log is read only from its end.
    """
    found: dict[str, Reading] = {}
    wanted = dict(patterns)
    for line in lines_newest_first:
        for segment in reversed(line.rstrip("\r\n").split("\r")):
            if "\x1b" in segment:
                segment = re.sub(TERMINAL_CODE, "", segment)
            for name, pattern in list(wanted.items()):
                match = pattern.search(segment)
                if match:
                    found[name] = parse_value(_captured(match))
                    del wanted[name]
            if not wanted:
                return found
    for name, pattern in wanted.items():
        found[name] = Reading(None, _not_found(name, pattern))
    return found


def _not_found(name: str, pattern: re.Pattern[str]) -> str:
    """Says what was looked for: a run printing ``val_loss=0.5`` learns the expected form."""
    if pattern.pattern == default_pattern(name).pattern:
        return f"no '{name}: <number>' line in the run log"
    return f"no line of the run log matches the {name} pattern"
