"""What a first run tells about the settings: the metrics it printed, which way each one should
go, a time budget, and the name a mistyped metric was meant to be. Pure: lines in, advice out.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import NamedTuple

from autoresearch.rules.formatting import first_of
from autoresearch.rules.metrics import TERMINAL_CODE, parse_value

# `name: number` at a line's start, or `METRIC name=number` anywhere: what a metric looks like.
_PRINTED = (
    r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*):\s*(\S+)"
    r"|METRIC\s+([A-Za-z_][A-Za-z0-9_.\-]*)=(\S+)"
)
# Metrics are printed at the end; a long log is not read further back than this.
SCANNED_LINES = 5000
MINIMIZE_WORDS = ("loss", "error", "latency", "time", "bpb", "perplexity", "seconds", "ppl")
MAXIMIZE_WORDS = ("accuracy", "throughput", "score", "reward", "f1", "acc", "auc")
# Budgets proposed: round numbers of seconds.
_ROUND_BUDGETS = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200)


class Printed(NamedTuple):
    """A metric as the run printed it: its name, its (last) value and the line that said so."""

    name: str
    value: float
    line: str


def printed_metrics(lines_newest_first: Iterable[str]) -> list[Printed]:
    """Every metric the run printed with a finite number, the last print of each, in the order
    they first appear in that part of the log."""
    found: dict[str, Printed] = {}
    for line in islice(lines_newest_first, SCANNED_LINES):
        for segment in reversed(line.rstrip("\r\n").split("\r")):
            if "\x1b" in segment:
                segment = re.sub(TERMINAL_CODE, "", segment)
            match = re.search(_PRINTED, segment)
            if match is None:
                continue
            name = match.group(1) or match.group(3)
            reading = parse_value(match.group(2) or match.group(4))
            if reading.value is not None and name not in found:
                found[name] = Printed(name, reading.value, segment.strip())
    return list(reversed(found.values()))


def guess_direction(name: str) -> str | None:
    """``minimize`` for a loss or a time, ``maximize`` for an accuracy or a score; None when
    the name does not tell (or tells both)."""
    words = [word for word in re.split(r"[_.\-]+", name.lower()) if word]

    def says(vocabulary: Sequence[str]) -> bool:
        return any(
            word == term or (len(term) > 3 and term in word)
            for word in words
            for term in vocabulary
        )

    lower, higher = says(MINIMIZE_WORDS), says(MAXIMIZE_WORDS)
    if lower == higher:
        return None
    return "minimize" if lower else "maximize"


def suggest_budget(seconds: float) -> int:
    """A round time budget with room for the run's own variation: half as long again, and
    never under 5 s, where a busy machine's start-up alone can double a run's time."""
    wanted = max(seconds * 1.5, 5.0)
    for budget in _ROUND_BUDGETS:
        if budget >= wanted:
            return budget
    return int(math.ceil(wanted / 300) * 300)


def printed_list(printed: Sequence[Printed], most: int = 6) -> str:
    return first_of([f"`{p.line}`" for p in printed], most)


def missing_metric(name: str, flag: str, printed: Sequence[Printed], custom: bool) -> str:
    """Why the metric was not found, what the run did print, and the closest name."""
    looked_for = f"no line matches the {name} pattern" if custom else f"no `{name}:` line"
    if not printed:
        return (
            f"{looked_for}, nor any `name: number` or `METRIC name=value` line; "
            "print the metric so, or give --pattern"
        )
    text = f"{looked_for}; the run printed {printed_list(printed)}"
    close = difflib.get_close_matches(name, [p.name for p in printed], n=1, cutoff=0.6)
    if close and not custom:
        text += f"; did you mean {flag} {close[0]}?"
    return text
