"""How values, percentages and durations are written, everywhere: the ledger, the terminal,
the reports and the plot.

One style each:

- a value: six decimals as in Karpathy's ledger when that loses nothing, else ten significant
  digits (a mean of several runs), which no metric's noise reaches: ``0.993200``,
  ``0.9932123457``; an int as it is;
- a signed percentage with two decimals: ``-0.47%``;
- a share (keep rate): a whole percent, one decimal under 10%: ``25%``, ``2.5%``;
- a duration: ``0m45s``, ``5m02s``, ``1h05m``;
- an interval: ``[low, high]`` of values.
"""

from __future__ import annotations

import re

MISSING = "n/a"


def number(value: float | int | None) -> str:
    """A value as the ledger writes it; an empty string for None (an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    short = f"{value:.6f}"
    return short if float(short) == value else f"{value:.10g}"


def value(value: float | int | None) -> str:
    """A value for people: as the ledger writes it, ``n/a`` when there is none."""
    return MISSING if value is None else number(value)


def fixed(value: float | None, decimals: int) -> str:
    """A value with a set number of decimals, so that a column of them lines up."""
    return MISSING if value is None else f"{value:.{decimals}f}"


def signed(value: float, decimals: int) -> str:
    return f"{value:+.{decimals}f}"


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


def interval(low: float | None, high: float | None) -> str:
    return f"[{value(low)}, {value(high)}]"


def counts(experiments: int, baseline: bool, kept: int, discarded: int, crashed: int) -> str:
    """``6 experiments: baseline, 2 kept, 2 discarded, 1 crashed`` (kept: after the baseline)."""
    first = "baseline, " if baseline else ""
    return (
        f"{experiments} experiments: {first}{kept} kept, {discarded} discarded, {crashed} crashed"
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
