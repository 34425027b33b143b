"""One verdict on an audit's interval, in the words every view of it prints."""

from __future__ import annotations

from autoresearch.rules.confirmation import confirmation, is_confirmed


def test_an_interval_that_holds_zero_confirms_nothing() -> None:
    """The audit printed "confirmed improvement: -36.486, 95% CI [-150.39, 77.42]"."""
    words = confirmation(-36.4861, -150.3912345, 77.4234567)
    assert words.startswith("not confirmed: the interval includes 0")
    assert "[-150.39, 77.42]" in words and "-36.49" in words
    assert not is_confirmed(-150.39, 77.42)


def test_confirmed_only_when_the_interval_lies_above_zero() -> None:
    assert confirmation(12.5, 3.1, 21.9) == "confirmed: improvement +12.5, 95% CI [3.1, 21.9]"
    worse = confirmation(-12.5, -21.9, -3.1)
    assert worse.startswith("not confirmed: the interval lies below 0")
    assert confirmation(None, None, None) == "not confirmed: too few runs to give an interval"
