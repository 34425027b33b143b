"""Matching a metric's pattern is bounded in time: a line that a pattern backtracks on without
end stops the reading and says so, and an earlier line never wins in its place."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from autoresearch.rules.metrics import (
    Limits,
    compile_pattern,
    default_pattern,
    read_metrics,
)

# Backtracks without end on a long run of a's that does not end the line (as `re` does with
# the issue's `^(?:a+)+$`, which `regex` happens to match quickly).
BACKTRACKING = r"^(a|a)+$|val_loss: (\S+)"
QUICK = Limits(line_seconds=0.2, log_seconds=5.0)


def test_a_line_that_takes_too_long_is_reported_with_its_number() -> None:
    lines = ["done", "a" * 40 + "!", "val_loss: 0.1"]  # newest first: the forged value is oldest
    reading = read_metrics(lines, {"val_loss": compile_pattern(BACKTRACKING)}, QUICK)["val_loss"]
    assert reading.value is None
    assert reading.problem == (
        "matching the val_loss pattern timed out after 0.2 s on line 2 from the end of the run log"
    )


def test_every_metric_not_found_yet_stops_with_it() -> None:
    lines = ["peak_mb: 12", "a" * 40 + "!", "val_loss: 0.1", "steps: 9"]
    patterns = {
        "val_loss": compile_pattern(BACKTRACKING),
        "peak_mb": default_pattern("peak_mb"),
        "steps": default_pattern("steps"),
    }
    readings = read_metrics(lines, patterns, QUICK)
    assert readings["peak_mb"].value == 12  # found before the slow line: it stands
    assert readings["steps"].value is None and "timed out" in (readings["steps"].problem or "")


def test_the_whole_log_is_bounded_too() -> None:
    """Lines each inside the line limit add up to the log's limit, then the reading stops."""

    def slow_lines() -> Iterator[str]:
        for _ in range(40):
            time.sleep(0.02)  # stands for a line that takes a while to match
            yield "step"

    limits = Limits(line_seconds=0.2, log_seconds=0.3)
    reading = read_metrics(slow_lines(), {"val_loss": default_pattern("val_loss")}, limits)
    problem = reading["val_loss"].problem or ""
    assert problem.startswith("reading the run log's metrics took over 0.3 s (at line ")
    assert problem.endswith(" from the end of the run log)")


def test_quick_lines_are_read_as_before_within_the_limits() -> None:
    lines = ["x" * 4_000_000, " " * 1_000_000 + "x", "val_loss: 0.25"]
    reading = read_metrics(lines, {"val_loss": default_pattern("val_loss")}, QUICK)["val_loss"]
    assert reading.value == 0.25


def test_a_pattern_the_engine_cannot_compile_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="missing \\)"):
        compile_pattern("val: (")
