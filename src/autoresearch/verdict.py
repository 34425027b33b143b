"""Keep, discard or crash: the decision rule, as pure functions of measured values.

The rule (also in the README): a candidate is kept when its metric is strictly better than the
keep ref's in the session's direction, or equal while the change removes more lines than it adds
(simpler is better). Anything else is discarded. A run with no valid metric is a crash. While no
experiment has been measured successfully, the first one that is becomes the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

KEEP, DISCARD, CRASH = "keep", "discard", "crash"
DIRECTIONS = ("minimize", "maximize")


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str


def is_better(value: float, reference: float, direction: str) -> bool:
    return value < reference if direction == "minimize" else value > reference


def change_percent(value: float, reference: float) -> float | None:
    if reference == 0:
        return None
    return (value - reference) / abs(reference) * 100.0


def decide(
    value: float | None,
    best: float | None,
    direction: str,
    lines_added: int = 0,
    lines_removed: int = 0,
    crash_reason: str | None = None,
) -> Verdict:
    if crash_reason is not None or value is None:
        return Verdict(CRASH, crash_reason or "no metric")
    if best is None:
        return Verdict(KEEP, "first measurement")
    if is_better(value, best, direction):
        return Verdict(KEEP, "better")
    if value == best and lines_removed > lines_added:
        return Verdict(KEEP, "equal and simpler")
    if value == best:
        return Verdict(DISCARD, "equal, not simpler")
    return Verdict(DISCARD, "not better")
