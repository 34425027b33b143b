"""One style for values, changes, shares and durations, wherever they are printed."""

from __future__ import annotations

import pytest

from autoresearch.rules import formatting


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.4, "0m00s"), (45, "0m45s"), (302, "5m02s"), (3900, "1h05m")]
)
def test_durations_read_as_the_verdict_line_writes_them(seconds: float, shown: str) -> None:
    assert formatting.duration(seconds) == shown


def test_changes_shares_and_missing_values() -> None:
    assert formatting.percent(-0.4712) == "-0.47%" and formatting.percent(40) == "+40.00%"
    assert formatting.share(0.25) == "25%" and formatting.share(0.025) == "2.5%"
    assert formatting.share(0.0) == "0%" and formatting.share(None) == "n/a"
    assert formatting.value(None) == "n/a" and formatting.number(None) == ""
    assert formatting.interval(0.1, None) == "[0.100000, n/a]"
    assert formatting.counts(6, True, 2, 2, 1) == (
        "6 experiments: baseline, 2 kept, 2 discarded, 1 crashed"
    )
