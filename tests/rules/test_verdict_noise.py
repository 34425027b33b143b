from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest

from autoresearch.rules.noise import reference_runs, session_noise
from autoresearch.rules.spread import robust_sigma
from autoresearch.rules.verdict import (
    DEFAULT_MAX_RUNS,
    DISCARD,
    KEEP,
    Evidence,
    cautious_sigma,
    estimate_sigma,
    judge,
)

SIGMA = 0.01
REFERENCE = (1.0, 1.0)


# A keep ref measured twice at 1.0, minimized, with run-to-run noise of 0.01.
AGAINST_TWO_RUNS = Evidence(candidate=(), reference=REFERENCE, sigma=SIGMA, direction="minimize")


def noisy(candidate: tuple[float, ...], **settings: Any) -> Evidence:
    return AGAINST_TWO_RUNS._replace(candidate=candidate, **settings)


def test_a_clearly_worse_candidate_is_discarded_after_one_run() -> None:
    decision = judge(noisy((1.02,)))
    assert decision is not None
    assert (decision.status, decision.runs, decision.spread) == (DISCARD, 1, None)
    assert decision.reason == "worse by 0.02 after 1 run"


def test_a_promising_first_run_asks_for_another_run() -> None:
    assert judge(noisy((0.98,))) is None


def test_a_confirmed_improvement_is_kept_with_its_runs_mean_and_spread() -> None:
    decision = judge(noisy((0.975, 0.985)))
    assert decision is not None
    assert (decision.status, decision.runs) == (KEEP, 2)
    assert decision.mean == pytest.approx(0.98)
    assert decision.spread == pytest.approx(statistics.stdev((0.975, 0.985)))
    assert decision.reason.startswith("better by 0.02 (lower bound 0.004")
    assert decision.reason.endswith(", 2 runs)")


def test_the_same_gain_counts_the_other_way_when_maximizing() -> None:
    decision = judge(noisy((1.025, 1.015), direction="maximize"))
    assert decision is not None and decision.status == KEEP


def test_an_improvement_the_size_of_the_noise_is_not_confirmed() -> None:
    decision = judge(noisy((0.996, 0.999, 0.998, 0.997)))
    assert decision is not None
    assert decision.status == DISCARD
    assert decision.reason == "not confirmed after 4 runs (p=0.39)"


def test_a_second_run_that_erases_the_gain_stops_the_candidate_early() -> None:
    decision = judge(noisy((0.997, 1.003)))
    assert decision is not None
    assert (decision.status, decision.runs) == (DISCARD, 2)
    assert decision.reason.startswith("not confirmed after 2 runs")


def test_min_delta_blocks_a_confirmed_gain_that_is_too_small() -> None:
    quiet = {"sigma": 0.001, "reference": (1.0,) * 4}
    runs = (0.998,) * 4
    kept = judge(noisy(runs, **quiet))
    assert kept is not None and kept.status == KEEP
    blocked = judge(noisy(runs, min_delta=0.005, **quiet))
    assert blocked is not None
    assert (blocked.status, blocked.complexity_decided) == (DISCARD, False)
    assert blocked.reason == "improvement 0.002 below --min-delta 0.005"


def test_the_complexity_charge_blocks_a_small_gain_with_many_added_lines() -> None:
    evidence = noisy(
        (0.997,) * 4, sigma=0.001, reference=(1.0,) * 4, complexity_cost=0.0002, lines_added=20
    )
    decision = judge(evidence)
    assert decision is not None
    assert (decision.status, decision.complexity_decided) == (DISCARD, True)
    assert decision.reason == "gain 0.003 does not pay for 20 added lines"


def test_a_deletion_with_an_equal_result_is_kept() -> None:
    without_cost = judge(noisy((1.0,), lines_removed=14))
    assert without_cost is not None
    assert (without_cost.status, without_cost.reason) == (KEEP, "equal and simpler (1 run)")

    credited = noisy((1.0,), lines_removed=14, complexity_cost=0.002)
    assert judge(credited) is None  # the credit makes it promising; it still has to be confirmed
    decision = judge(noisy((1.0, 1.0), lines_removed=14, complexity_cost=0.002))
    assert decision is not None
    assert (decision.status, decision.complexity_decided) == (KEEP, True)
    assert decision.reason == "kept for 14 fewer lines (2 runs)"


def test_a_worse_deletion_is_not_kept_for_being_simpler() -> None:
    decision = judge(noisy((1.02,), lines_removed=14))
    assert decision is not None and decision.status == DISCARD


def test_a_small_first_gain_is_not_worth_a_second_run() -> None:
    decision = judge(noisy((0.999,)))
    assert decision is not None and decision.status == DISCARD
    assert decision.reason == "not promising after 1 run (better by 0.001, needs 0.0025)"


def test_evidence_that_cannot_be_judged_is_refused() -> None:
    for settings in ({"direction": "up"}, {"max_runs": 0}, {"sigma": -1.0}, {"min_delta": -1}):
        with pytest.raises(ValueError):
            judge(noisy((1.0,), **settings))
    with pytest.raises(ValueError, match="at least one run"):
        judge(noisy(()))


@pytest.mark.parametrize("sigma", [None, 0.0])
@pytest.mark.parametrize(
    ("value", "best", "direction", "added", "removed", "status", "reason"),
    [
        (0.99, 1.0, "minimize", 0, 0, KEEP, "better"),
        (0.91, 0.90, "maximize", 3, 1, KEEP, "better"),
        (1.01, 1.0, "minimize", 0, 0, DISCARD, "not better"),
        (0.89, 0.90, "maximize", 0, 0, DISCARD, "not better"),
        (1.0, 1.0, "minimize", 2, 10, KEEP, "equal and simpler"),
        (1.0, 1.0, "minimize", 3, 3, DISCARD, "equal, not simpler"),
        (1.0, 1.0, "maximize", 5, 1, DISCARD, "equal, not simpler"),
    ],
)
def test_without_noise_the_plain_rule_decides_on_one_run(
    sigma: float | None,
    value: float,
    best: float,
    direction: str,
    added: int,
    removed: int,
    status: str,
    reason: str,
) -> None:
    """Strictly better is kept, equal only when the change removes more lines than it adds."""
    evidence = Evidence(
        (value,), (best,), sigma, direction, lines_added=added, lines_removed=removed
    )
    decision = judge(evidence)
    assert decision is not None
    assert (decision.status, decision.reason) == (status, reason)
    assert (decision.runs, decision.mean) == (1, value)


def test_without_noise_min_delta_and_the_complexity_charge_still_apply() -> None:
    tiny = judge(Evidence((0.9995,), (1.0,), None, "minimize", min_delta=0.001))
    assert tiny is not None and tiny.status == DISCARD
    assert tiny.reason == "improvement 0.0005 below --min-delta 0.001"
    deletion = Evidence((1.0,), (1.0,), None, "minimize", complexity_cost=0.001, lines_removed=5)
    kept = judge(deletion)
    assert kept is not None
    assert (kept.status, kept.complexity_decided) == (KEEP, True)


def test_at_max_runs_there_is_always_a_verdict() -> None:
    rng = random.Random(3)
    for max_runs in (1, 2, 4):
        for _ in range(200):
            runs = tuple(rng.gauss(0.99, SIGMA) for _ in range(max_runs))
            assert judge(noisy(runs, max_runs=max_runs)) is not None


def test_a_candidate_needs_a_reference_to_be_judged() -> None:
    # The first measurement is the baseline by the engine's own rule: judge is never asked.
    with pytest.raises(ValueError, match="reference"):
        judge(noisy((1.3, 1.31), reference=()))


def test_estimate_sigma_pools_the_variance_of_repeated_runs() -> None:
    # (1, 3): squares 2 on 1 degree of freedom; (2, 4, 6): 8 on 2; (5,) has no repeat.
    assert estimate_sigma([(1.0, 3.0), (2.0, 4.0, 6.0), (5.0,)]) == pytest.approx(math.sqrt(10 / 3))
    assert estimate_sigma([(1.0,), (2.0,)]) is None
    assert estimate_sigma([]) is None
    assert estimate_sigma([(0.5, 0.5), (0.7, 0.7, 0.7)]) == 0.0


def false_keep_rates(sessions: int, candidates: int) -> tuple[float, float]:
    """False keep rates of (greedy, noise-aware) on the same simulated candidates and noise.

    Most candidates do nothing, some are slightly harmful, one in ten is a 3-sigma improvement.
    """
    rng = random.Random(11)
    wrong_proposed, greedy_kept, judged_kept = 0, 0, 0
    for _ in range(sessions):
        greedy_true = judged_true = 1.0
        greedy_best = rng.gauss(1.0, SIGMA)
        reference = (greedy_best, rng.gauss(1.0, SIGMA))
        for _ in range(candidates):
            draw = rng.random()
            effect = 3 * SIGMA if draw < 0.1 else (-SIGMA if draw < 0.3 else 0.0)
            noise = [rng.gauss(0.0, SIGMA) for _ in range(DEFAULT_MAX_RUNS)]
            wrong_proposed += effect <= 0

            value = greedy_true - effect + noise[0]
            greedy = judge(Evidence((value,), (greedy_best,), None, "minimize"))
            if greedy is not None and greedy.status == KEEP:
                greedy_true, greedy_best = greedy_true - effect, value
                greedy_kept += effect <= 0

            runs: list[float] = []
            decision = None
            while decision is None:
                runs.append(judged_true - effect + noise[len(runs)])
                decision = judge(noisy(tuple(runs), reference=reference))
            if decision.status == KEEP:
                judged_true, reference = judged_true - effect, tuple(runs)
                judged_kept += effect <= 0
    return greedy_kept / wrong_proposed, judged_kept / wrong_proposed


def test_noise_is_rarely_kept_where_the_greedy_rule_keeps_it_often() -> None:
    greedy, judged = false_keep_rates(sessions=20, candidates=100)
    assert judged <= 0.10
    assert greedy >= 0.08
    assert greedy >= 3 * judged


# ----- runs far outside the noise: a load spike is a reason to measure again ----------------


def test_a_first_run_far_outside_the_noise_is_measured_again_not_discarded() -> None:
    # 20 sigmas worse: a load spike far more often than a change that bad.
    assert judge(noisy((1.2,))) is None


def test_a_spike_among_a_good_candidates_runs_is_set_aside_and_it_is_kept() -> None:
    assert judge(noisy((1.25, 0.975))) is None  # one typical run left: it must be confirmed
    decision = judge(noisy((1.25, 0.975, 0.985)))
    assert decision is not None
    assert (decision.status, decision.runs) == (KEEP, 3)
    assert decision.mean == pytest.approx(0.98)  # the typical runs' mean
    assert decision.reason.startswith("better by 0.02 (lower bound 0.00")
    assert decision.reason.endswith("2 runs); 1 run far outside the noise set aside")


def test_a_change_that_is_really_far_worse_is_discarded_once_a_second_run_agrees() -> None:
    decision = judge(noisy((1.2, 1.21)))
    assert decision is not None
    assert (decision.status, decision.runs) == (DISCARD, 2)
    assert "set aside" not in decision.reason


def test_with_no_run_left_a_run_far_outside_the_noise_is_judged_as_it_is() -> None:
    worse = judge(noisy((1.2,), max_runs=1))
    assert worse is not None and worse.status == DISCARD
    assert worse.reason == "worse by 0.2 after 1 run"
    far_better = judge(noisy((0.8,), max_runs=1))
    assert far_better is not None and far_better.status == KEEP


def test_a_spike_in_the_keep_refs_runs_does_not_move_its_reference() -> None:
    # Against (1.0, 1.0, 1.3) as measured, 1.0 would look 0.1 better; the spike is set aside.
    decision = judge(noisy((1.0, 1.0), reference=(1.0, 1.3, 1.0)))
    assert decision is not None and decision.status == DISCARD


def test_the_noise_estimate_is_not_inflated_by_one_spike() -> None:
    steady = [(1.0, 1.01)] * 9
    assert robust_sigma([*steady, (1.0, 2.0)]) == pytest.approx(robust_sigma(steady))
    assert cautious_sigma([*steady, (1.0, 2.0)]) < 0.03  # a standard deviation says 0.24
    assert robust_sigma([(1.0,), (2.0,)]) is None
    assert robust_sigma([(0.5, 0.5), (0.7, 0.7, 0.7)]) == 0.0


def test_a_coarsely_printed_metric_that_mostly_repeats_itself_is_still_noisy() -> None:
    sigma = robust_sigma([(1.0, 1.0), (1.0, 1.0), (2.0, 2.01)])
    assert sigma is not None and sigma > 0


def run_of(commit: str, experiment: int, value: float) -> dict[str, Any]:
    return {"commit": commit, "experiment": experiment, "value": value}


def test_the_keep_refs_runs_minutes_apart_show_the_drift_back_to_back_repeats_miss() -> None:
    back_to_back = [run_of(f"c{i}", i, v) for i in range(2, 8) for v in (1.0 + i, 1.001 + i)]
    drifting = [run_of("keep", 1, 1.0), run_of("keep", 1, 1.001)]
    drifting += [run_of("keep", 4, 1.03), run_of("keep", 7, 0.98)]
    pooled = session_noise(back_to_back + drifting[:2], "keep")
    assert pooled is not None and pooled < 0.003
    with_drift = session_noise(back_to_back + drifting, "keep")
    assert with_drift is not None and with_drift > 0.01


def test_the_reference_is_the_keep_refs_latest_runs() -> None:
    runs = [run_of("keep", n, float(n)) for n in range(1, 7)] + [run_of("other", 7, 9.0)]
    assert reference_runs(runs, "keep", None) == (3.0, 4.0, 5.0, 6.0)
    assert reference_runs([], "keep", 2.5) == (2.5,)
