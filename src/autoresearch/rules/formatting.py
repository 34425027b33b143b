"""How values, percentages and durations are written, everywhere: the ledger, the terminal,
the reports and the plot.

One style each:

- a value in the ledger file: six decimals as in Karpathy's ledger when that loses nothing, else
  ten significant digits (a mean of several runs), which no metric's noise reaches:
  ``0.993200``, ``0.9932123457``; an int as it is;
- a value for people (terminal, reports, dashboard, final summary, audit): five significant
  digits, never fewer than the whole part, without trailing zeros, so that one value reads the
  same wherever it is shown: ``466.59``, ``474.08``, ``0.9932``, ``123457``. A fixed rule rather
  than one from the noise: the noise is known only in a session, and a bare ledger's report
  must read like the session's;
- an interval: both ends with the decimals of the wider one, ``[-150.39, 77.42]``;
- a signed percentage with two decimals: ``-0.47%``;
- a share (keep rate): a whole percent, one decimal under 10%: ``25%``, ``2.5%``;
- a duration: ``0m45s``, ``5m02s``, ``1h05m``;
- a count with its noun: ``1 experiment``, ``2 experiments``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

MISSING = "n/a"
# What a metric's value shows of itself: five digits tell a 0.02% change, below any run's noise.
SIGNIFICANT_DIGITS = 5
MOST_DECIMALS = 12


def number(value: float | int | None) -> str:
    """A value as the ledger writes it; an empty string for None (an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    short = f"{value:.6f}"
    return short if float(short) == value else f"{value:.10g}"


def decimals_for(value: float) -> int:
    """Decimals that show five significant digits of ``value`` (none below its whole part)."""
    if value == 0 or not math.isfinite(value):
        return 0
    digits = SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))
    return min(MOST_DECIMALS, max(0, digits))


def value(value: float | int | None, decimals: int | None = None) -> str:
    """A value for people, ``n/a`` when there is none: five significant digits unless
    ``decimals`` are given, trailing zeros dropped."""
    if value is None:
        return MISSING
    if isinstance(value, int):
        return str(value)
    places = decimals_for(value) if decimals is None else decimals
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def signed_value(change: float, decimals: int | None = None) -> str:
    """A change of a value, with its sign: ``+0.0012``, ``-36.49``."""
    text = value(change, decimals)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def percent(value: float | None) -> str:
    """A signed change in percent: ``-0.47%``."""
    return MISSING if value is None else f"{value:+.2f}%"


def share(fraction: float | None) -> str:
    """A part of a whole (a keep rate): ``25%``, and ``2.5%`` where a whole percent says little."""
    if fraction is None:
        return MISSING
    return f"{fraction:.1%}" if 0 < fraction < 0.1 else f"{fraction:.0%}"


def duration(seconds: float) -> str:
    """``0m45s``, ``5m02s``, ``1h05m``: fixed width up to an hour, greppable."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def interval_decimals(low: float | None, high: float | None) -> int | None:
    """The decimals both ends of an interval share: those of the wider end."""
    ends = [abs(end) for end in (low, high) if end is not None]
    return decimals_for(max(ends)) if ends else None


def interval(low: float | None, high: float | None) -> str:
    """``[-150.39, 77.42]``: both ends with the same decimals."""
    places = interval_decimals(low, high)
    return f"[{value(low, places)}, {value(high, places)}]"


def first_of(items: Sequence[str], most: int = 5) -> str:
    """``a, b, c and 4 more``: the first ``most`` of a list that may be long, and the count."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 experiment``, ``2 experiments``; ``many`` where the plural is not noun + s."""
    return f"{count} {noun if count == 1 else many or noun + 's'}"


def counts(experiments: int, baseline: bool, kept: int, discarded: int, crashed: int) -> str:
    """``6 experiments: baseline, 2 kept, 2 discarded, 1 crashed`` (kept: after the baseline)."""
    first = "baseline, " if baseline else ""
    return (
        f"{plural(experiments, 'experiment')}: {first}{kept} kept, {discarded} discarded, "
        f"{crashed} crashed"
    )


def rate(per_hour: float | None) -> str:
    return MISSING if per_hour is None else f"{per_hour:.1f}"


def money(usd: float | None) -> str:
    return MISSING if usd is None else f"${usd:,.2f}"


# Characters that act on a terminal or reorder what it shows: C0 and C1 controls (ESC starts
# the sequences that move the cursor, rewrite rows or set the clipboard), DEL, and the
# bidirectional overrides and isolates.
_ACTING = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every character that would act on a terminal shown as its escape
    (ESC as ``\\x1b``): for everything an agent or a file wrote, wherever it is shown."""
    return _ACTING.sub(_escape, text)


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# What a crash shows for its metrics, everywhere: it measured nothing, not 0.
NO_VALUE = "\u2014"
