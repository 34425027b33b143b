"""Whether re-runs confirm an improvement, in the words every place that shows it uses.

The audit, the report's cards, the dashboard and the final summary all print this one
sentence, so that none of them can call an interval that holds 0 a confirmation. An
improvement is signed so that positive is better, whichever the metric's direction.
"""

from __future__ import annotations

from autoresearch.rules import formatting

CONFIRMED = "confirmed"
NOT_CONFIRMED = "not confirmed"


def is_confirmed(low: float | None, high: float | None) -> bool:
    """Confirmed only when the whole 95% interval lies on the better side of 0."""
    return low is not None and high is not None and low > 0


def confirmation(estimate: float | None, low: float | None, high: float | None) -> str:
    """``confirmed: improvement +12.5, 95% CI [3.1, 21.9]`` or why not, in one line."""
    if estimate is None or low is None or high is None:
        return f"{NOT_CONFIRMED}: too few runs to give an interval"
    places = formatting.interval_decimals(low, high)
    measured = (
        f"improvement {formatting.signed_value(estimate, places)}, "
        f"95% CI {formatting.interval(low, high)}"
    )
    if is_confirmed(low, high):
        return f"{CONFIRMED}: {measured}"
    if high < 0:
        return f"{NOT_CONFIRMED}: the interval lies below 0, the re-runs are worse ({measured})"
    return f"{NOT_CONFIRMED}: the interval includes 0 ({measured})"
