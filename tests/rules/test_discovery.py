"""What a first run tells: printed metrics, guessed directions, a budget, the closest name."""

from __future__ import annotations

import pytest

from autoresearch.rules.discovery import (
    guess_direction,
    missing_metric,
    printed_metrics,
    suggest_budget,
)


@pytest.mark.parametrize(
    "name", ["val_loss", "error_rate", "p50_latency", "time", "val_bpb", "perplexity", "seconds"]
)
def test_losses_errors_and_times_are_minimized(name: str) -> None:
    assert guess_direction(name) == "minimize"


@pytest.mark.parametrize(
    "name", ["accuracy", "throughput", "score", "mean_reward", "f1", "top1-acc"]
)
def test_accuracies_and_scores_are_maximized(name: str) -> None:
    assert guess_direction(name) == "maximize"


@pytest.mark.parametrize("name", ["widgets", "peak_vram_mb", "loss_score"])
def test_a_name_that_says_nothing_or_both_gets_no_guess(name: str) -> None:
    assert guess_direction(name) is None


def test_printed_metrics_are_the_last_print_of_each_in_log_order() -> None:
    log = [
        "step: 1",
        "loading data: done",
        "\x1b[32mval_loss: 0.9\x1b[0m",
        "progress 10%\rMETRIC tokens_per_s=1200",
        "http://example.com: 3",
        "step: 2",
        "val_loss: 0.5",
    ]
    found = printed_metrics(reversed(log))
    assert [(p.name, p.value) for p in found] == [
        ("tokens_per_s", 1200.0),
        ("step", 2.0),
        ("val_loss", 0.5),
    ]
    assert found[0].line == "METRIC tokens_per_s=1200"


def test_a_missing_metric_names_the_closest_printed_one() -> None:
    printed = printed_metrics(["seconds: 0.0289"])
    assert missing_metric("second", "--metric", printed, custom=False) == (
        "no `second:` line; the run printed `seconds: 0.0289`; did you mean --metric seconds?"
    )
    assert "did you mean" not in missing_metric("accuracy", "--metric", printed, custom=False)
    nothing = missing_metric("loss", "--metric", [], custom=False)
    assert "nor any `name: number` or `METRIC name=value` line" in nothing


@pytest.mark.parametrize(("seconds", "budget"), [(0.2, 5), (4.0, 10), (50.0, 90), (2000, 3000)])
def test_a_proposed_budget_is_round_with_room_to_spare(seconds: float, budget: int) -> None:
    assert suggest_budget(seconds) == budget
