from __future__ import annotations

from autoresearch.verdict import CRASH, DISCARD, KEEP, change_percent, decide


def test_strictly_better_is_kept_in_either_direction() -> None:
    assert decide(0.99, 1.0, "minimize").status == KEEP
    assert decide(0.91, 0.90, "maximize").status == KEEP


def test_worse_is_discarded() -> None:
    assert decide(1.01, 1.0, "minimize").status == DISCARD
    assert decide(0.89, 0.90, "maximize").status == DISCARD


def test_equal_is_kept_only_when_the_change_removes_more_lines_than_it_adds() -> None:
    simpler = decide(1.0, 1.0, "minimize", lines_added=2, lines_removed=10)
    assert (simpler.status, simpler.reason) == (KEEP, "equal and simpler")
    assert decide(1.0, 1.0, "minimize", lines_added=3, lines_removed=3).status == DISCARD
    assert decide(1.0, 1.0, "minimize", lines_added=5, lines_removed=1).status == DISCARD


def test_nothing_measured_yet_means_the_first_success_is_the_baseline() -> None:
    assert decide(5.0, None, "minimize").status == KEEP


def test_a_crash_reason_or_missing_value_is_a_crash() -> None:
    assert decide(None, 1.0, "minimize").status == CRASH
    assert decide(0.5, 1.0, "minimize", crash_reason="exit 1") == decide(
        None, None, "maximize", crash_reason="exit 1"
    )


def test_change_percent() -> None:
    assert round(change_percent(0.9932, 0.9979) or 0, 2) == -0.47
    assert change_percent(1.0, 0.0) is None
