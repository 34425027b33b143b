"""One style for values, changes, shares and durations, wherever they are printed."""

from __future__ import annotations

import pytest

from autoresearch.rules import formatting


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.4, "0m00s"), (45, "0m45s"), (302, "5m02s"), (3900, "1h05m")]
)
def test_durations_read_as_the_verdict_line_writes_them(seconds: float, shown: str) -> None:
    assert formatting.duration(seconds) == shown


@pytest.mark.parametrize(
    ("measured", "shown"),
    [
        (466.59, "466.59"),
        (466.590000, "466.59"),
        (474.0766667, "474.08"),
        (0.9932, "0.9932"),
        (0.99785612, "0.99786"),
        (123456.7, "123457"),
        (112.0, "112"),
        (0.0, "0"),
        (-36.4861, "-36.486"),
    ],
)
def test_one_value_reads_the_same_wherever_it_is_shown(measured: float, shown: str) -> None:
    """Five significant digits, never cut into the whole part, no trailing zeros: one metric
    read 466.59, 466.590000, 474.0766667 and 466.5900 in four places."""
    assert formatting.value(measured) == shown


def test_an_interval_shows_both_ends_alike_and_changes_their_sign() -> None:
    assert formatting.interval(-150.3912345, 77.4234567) == "[-150.39, 77.42]"
    assert formatting.signed_value(0.0012) == "+0.0012"
    assert formatting.signed_value(-36.4861) == "-36.486"


def test_counts_take_the_singular_for_one() -> None:
    assert formatting.plural(1, "experiment") == "1 experiment"
    assert formatting.plural(2, "kept change") == "2 kept changes"
    assert formatting.counts(1, True, 0, 0, 0).startswith("1 experiment: ")


def test_changes_shares_and_missing_values() -> None:
    assert formatting.percent(-0.4712) == "-0.47%" and formatting.percent(40) == "+40.00%"
    assert formatting.share(0.25) == "25%" and formatting.share(0.025) == "2.5%"
    assert formatting.share(0.0) == "0%" and formatting.share(None) == "n/a"
    assert formatting.value(None) == "n/a" and formatting.number(None) == ""
    assert formatting.interval(0.1, None) == "[0.1, n/a]"
    assert formatting.counts(6, True, 2, 2, 1) == (
        "6 experiments: baseline, 2 kept, 2 discarded, 1 crashed"
    )
