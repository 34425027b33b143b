"""Whether re-runs confirm an improvement, in the words every place that shows it uses.

The audit, the report's cards, the dashboard and the final summary all print this one
verdict, so that none of them can call an interval that holds 0 a confirmation. An
improvement is signed so that positive is better, whichever the metric's direction.
"""

from __future__ import annotations

from autoresearch.rules import formatting

CONFIRMED = "confirmed"
NOT_CONFIRMED = "not confirmed"
INCLUDES_ZERO = f"{NOT_CONFIRMED}: the interval includes 0"
BELOW_ZERO = f"{NOT_CONFIRMED}: the interval lies below 0, the re-runs are worse"
TOO_FEW_RUNS = f"{NOT_CONFIRMED}: too few runs to give an interval"


def is_confirmed(low: float | None, high: float | None) -> bool:
    """Confirmed only when the whole 95% interval lies on the better side of 0."""
    return low is not None and high is not None and low > 0


def verdict_words(low: float | None, high: float | None) -> str:
    """The verdict alone: ``confirmed`` or ``not confirmed: why``."""
    if low is None or high is None:
        return TOO_FEW_RUNS
    if is_confirmed(low, high):
        return CONFIRMED
    return BELOW_ZERO if high < 0 else INCLUDES_ZERO


def measured_words(estimate: float | None, low: float | None, high: float | None) -> str:
    """``improvement +12.5, 95% CI [3.1, 21.9]``, or nothing without an interval."""
    if estimate is None or low is None or high is None:
        return ""
    places = formatting.interval_decimals(low, high)
    return (
        f"improvement {formatting.signed_value(estimate, places)}, "
        f"95% CI {formatting.interval(low, high)}"
    )


def joined(verdict: str, measured: str) -> str:
    """The verdict and what was measured, in one line."""
    if not measured:
        return verdict
    if verdict == CONFIRMED:
        return f"{CONFIRMED}: {measured}"
    return f"{verdict} ({measured})"


def confirmation(estimate: float | None, low: float | None, high: float | None) -> str:
    """``confirmed: improvement +12.5, 95% CI [3.1, 21.9]`` or why not, in one line."""
    return joined(verdict_words(low, high), measured_words(estimate, low, high))
