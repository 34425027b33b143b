"""Keep, discard or crash: the decision rule, as pure functions of measured values.

``judge`` decides. While nothing has been measured yet, the first successful run is the baseline.
For a metric that moves from run to run by a typical amount sigma (the standard deviation of
repeated runs of the same commit), the rule is noise-aware:

- The candidate's gain is its mean minus the keep ref's mean over all the keep ref's runs, signed
  so that a positive gain is an improvement. When a complexity cost is set, every net added line
  is charged that much from the gain and every net removed line is credited to it.
- After the first run, a candidate whose gain is under a quarter of a sigma (plus --min-delta)
  is discarded at once: most changes do nothing, and one run says so cheaply.
- A promising candidate is run again, up to six runs. It is kept once, with at least two runs,
  the gain passes a one-sided test against the keep ref's runs at the 6% level (a z-test: the
  gain divided by sigma * sqrt(1/runs + 1/reference runs)), and the lower end of the one-sided
  94% confidence bound on the gain is at least --min-delta.
- It is discarded as soon as it cannot plausibly pass: when, even if its gain were one standard
  error better than it measures now and held over every remaining run, the bound after the last
  run would stay below --min-delta.
- Without a complexity cost, a change that removes more lines than it adds and is not confirmed
  better is still kept when its mean is no worse than the keep ref's (equal and simpler).
- A run far outside the noise is a reason to measure again, not a verdict: a candidate's run
  more than ``WILD_SIGMAS`` sigmas from the keep ref's mean that no other run of the candidate
  comes that near is set aside (a load spike, not the change), and the candidate is run again
  while runs are left. A keep ref's run that none of its other runs comes near is set aside too,
  once it has three. Set-aside runs count against the runs allowed.
- With no noise (sigma unknown or zero) this is the plain rule, on one run, with --min-delta and
  the complexity charge applied to the gain.

``cautious_sigma`` pools the noise from repeated runs of the same commits robustly (see
``spread``); ``estimate_sigma`` is the plain pooled standard deviation. (``--min-delta`` is read
once, as ``settings.Amount``.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from autoresearch.rules import spread, stats
from autoresearch.rules.stats import normal_cdf, normal_quantile, t_quantile

KEEP, DISCARD, CRASH = "keep", "discard", "crash"
DIRECTIONS = ("minimize", "maximize")

# Tuned with bench/verdicts.py, with the keep ref run again between a candidate's repeats: under
# Gaussian noise, load spikes and slow drift alike, under 2% of null or harmful changes are kept
# and 60% or more of 2-sigma improvements are, at about 2 runs per candidate. At the 10% level
# the repeats' several looks kept 2.7% of null changes; at 7%, 2.1%; with four runs at most,
# drift left too little power, which two more runs give back.
ALPHA = 0.06
FIRST_RUN_BAR = 0.25  # in sigmas: the gain one run must show to earn a second
MIN_RUNS_TO_KEEP = 2  # a single lucky run is exactly the noise this rule exists to refuse
DEFAULT_MAX_RUNS = 6
# In standard errors: the benefit of the doubt a candidate gets before it is given up on. Without
# it, one unlucky second run ends real gains that two more runs would have confirmed.
FUTILITY_ALLOWANCE = 1.0
# In sigmas: how far from the keep ref, with no other run of its commit near it, a run must land
# to be taken for a spike. Gaussian noise goes that far about once in two million runs.
WILD_SIGMAS = 5.0


def _z_alpha() -> float:
    return normal_quantile(1.0 - ALPHA)


class Verdict(NamedTuple):
    status: str
    reason: str
    mean: float | None = None
    runs: int = 1
    spread: float | None = None
    complexity_decided: bool = False


class Evidence(NamedTuple):
    """Everything ``judge`` looks at: the runs so far and the session's settings."""

    candidate: tuple[float, ...]
    reference: tuple[float, ...]
    sigma: float | None
    direction: str
    min_delta: float = 0.0
    max_runs: int = DEFAULT_MAX_RUNS
    complexity_cost: float = 0.0
    lines_added: int = 0
    lines_removed: int = 0
    set_aside: int = 0  # runs of the candidate left out of ``candidate`` as far outside the noise

    @property
    def net_lines(self) -> int:
        return self.lines_added - self.lines_removed

    @property
    def noisy(self) -> bool:
        return self.sigma is not None and self.sigma > 0


def is_better(value: float, reference: float, direction: str) -> bool:
    return value < reference if direction == "minimize" else value > reference


def change_percent(value: float, reference: float) -> float | None:
    if reference == 0:
        return None
    return (value - reference) / abs(reference) * 100.0


class _Measures(NamedTuple):
    """The numbers one judgement rests on, for a given charge and bar."""

    gain: float  # raw improvement of the candidate's mean over the reference mean
    effective: float  # gain minus the complexity charge
    bar: float  # the smallest effective gain worth keeping (min_delta)
    standard_error: float
    lower_bound: float


def _measure(evidence: Evidence, charge_per_line: float, bar: float) -> _Measures:
    candidate_mean = stats.mean(evidence.candidate)
    reference_mean = stats.mean(evidence.reference)
    gain = candidate_mean - reference_mean
    if evidence.direction == "minimize":
        gain = -gain
    effective = gain - charge_per_line * evidence.net_lines
    standard_error = 0.0
    if evidence.noisy:
        runs, reference_runs = len(evidence.candidate), len(evidence.reference)
        standard_error = (evidence.sigma or 0.0) * math.sqrt(1 / runs + 1 / reference_runs)
    lower_bound = effective - (_z_alpha() * standard_error if standard_error else 0.0)
    return _Measures(gain, effective, bar, standard_error, lower_bound)


def _still_plausible(evidence: Evidence, measures: _Measures) -> bool:
    """Whether running the candidate again could still end in a keep."""
    runs = len(evidence.candidate)
    sigma = evidence.sigma or 0.0
    if runs == 1:
        return measures.effective >= measures.bar + FIRST_RUN_BAR * sigma
    final_runs = max(1, evidence.max_runs - evidence.set_aside)
    final_error = sigma * math.sqrt(1 / final_runs + 1 / len(evidence.reference))
    hoped_for_gain = measures.effective + FUTILITY_ALLOWANCE * final_error
    margin = _z_alpha() * final_error if final_error else 0.0
    return hoped_for_gain - margin >= measures.bar


def _status(evidence: Evidence, charge_per_line: float, bar: float) -> str | None:
    """KEEP, DISCARD, or None for "run again", under the given charge per line and bar."""
    measures = _measure(evidence, charge_per_line, bar)
    runs = len(evidence.candidate)
    enough_runs = runs >= min(MIN_RUNS_TO_KEEP, evidence.max_runs) or not evidence.noisy
    if _confirmed(measures) and enough_runs:
        return KEEP
    can_run_again = evidence.noisy and runs + evidence.set_aside < evidence.max_runs
    if can_run_again and _still_plausible(evidence, measures):
        return None
    if _equal_and_simpler(evidence, measures):
        return KEEP
    return DISCARD


def _confirmed(measures: _Measures) -> bool:
    return measures.effective > 0 and measures.lower_bound >= measures.bar


def _equal_and_simpler(evidence: Evidence, measures: _Measures) -> bool:
    # With a complexity cost the credit already rewards deletions; this is the rule for no cost.
    return evidence.complexity_cost == 0 and evidence.net_lines < 0 and measures.gain >= 0


def judge(evidence: Evidence) -> Verdict | None:
    """Keep or discard the candidate from its runs so far, or None to run it once more.

    None is only ever returned while the candidate has fewer than ``max_runs`` runs.
    """
    _check(evidence)
    all_runs = len(evidence.candidate)
    typical = without_wild_runs(evidence)
    if not typical.candidate and all_runs < evidence.max_runs:
        return None
    # With no run left to take, every run far outside the noise is judged as it is.
    evidence = typical if typical.candidate else evidence._replace(reference=typical.reference)
    runs = len(evidence.candidate)
    mean = stats.mean(evidence.candidate)
    scatter = stats.stdev(evidence.candidate) if runs > 1 else None
    charge, bar = evidence.complexity_cost, evidence.min_delta
    status = _status(evidence, charge, bar)
    if status is None:
        return None
    complexity_decided = charge != 0 and _status(evidence, 0.0, bar) != status
    bar_decided = bar > 0 and _status(evidence, charge, 0.0) != status
    measures = _measure(evidence, charge, bar)
    if complexity_decided:
        reason = _complexity_reason(evidence, measures, status)
    elif bar_decided and status == DISCARD:
        reason = f"improvement {_number(measures.effective)} below --min-delta {_number(bar)}"
    elif evidence.noisy:
        reason = _noisy_reason(evidence, measures, status)
    else:
        reason = _plain_reason(measures, status)
    if evidence.set_aside:
        reason += f"; {_runs(evidence.set_aside)} far outside the noise set aside"
    return Verdict(status, reason, mean, all_runs, scatter, complexity_decided)


def without_wild_runs(evidence: Evidence) -> Evidence:
    """The evidence with the runs far outside the noise set aside (see the module's rule)."""
    if not evidence.noisy:
        return evidence
    reach = WILD_SIGMAS * (evidence.sigma or 0.0)
    reference = spread.typical_runs(evidence.reference, reach)
    center = stats.mean(reference)
    runs = evidence.candidate
    kept = tuple(
        value
        for i, value in enumerate(runs)
        if abs(value - center) <= reach or not spread.uncorroborated(runs, i, reach)
    )
    set_aside = evidence.set_aside + len(runs) - len(kept)
    return evidence._replace(candidate=kept, reference=reference, set_aside=set_aside)


def _check(evidence: Evidence) -> None:
    if not evidence.candidate:
        raise ValueError("the candidate needs at least one run to be judged")
    if not evidence.reference:
        raise ValueError("a candidate is judged against a reference: the keep ref's runs")
    if evidence.direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
    if evidence.max_runs < 1:
        raise ValueError("max_runs must be at least 1")
    if evidence.min_delta < 0:
        raise ValueError("min_delta cannot be negative")
    if evidence.sigma is not None and evidence.sigma < 0:
        raise ValueError("sigma cannot be negative")


def _plain_reason(measures: _Measures, status: str) -> str:
    if status == KEEP:
        return "better" if _confirmed(measures) else "equal and simpler"
    if measures.effective == 0:
        return "equal, not simpler"
    return "not better"


def _noisy_reason(evidence: Evidence, measures: _Measures, status: str) -> str:
    runs = len(evidence.candidate)
    if status == KEEP and _confirmed(measures):
        bound = _number(measures.lower_bound)
        return f"better by {_number(measures.effective)} (lower bound {bound}, {_runs(runs)})"
    if status == KEEP:
        return f"equal and simpler ({_runs(runs)})"
    if runs == 1 and measures.gain < 0:
        return f"worse by {_number(-measures.gain)} after 1 run"
    if runs == 1:
        needed = _number(measures.bar + FIRST_RUN_BAR * (evidence.sigma or 0.0))
        return (
            f"not promising after 1 run (better by {_number(measures.effective)}, needs {needed})"
        )
    return f"not confirmed after {_runs(runs)} (p={_p_value(measures):.2f})"


def _complexity_reason(evidence: Evidence, measures: _Measures, status: str) -> str:
    lines = abs(evidence.net_lines)
    if status == KEEP:
        return f"kept for {lines} fewer lines ({_runs(len(evidence.candidate))})"
    return f"gain {_number(measures.gain)} does not pay for {lines} added lines"


def _p_value(measures: _Measures) -> float:
    if measures.standard_error == 0:
        return 0.0 if measures.effective > 0 else 1.0
    return 1.0 - normal_cdf(measures.effective / measures.standard_error)


def _runs(count: int) -> str:
    return f"{count} run" + ("s" if count != 1 else "")


def _number(value: float) -> str:
    return f"{value:.4g}"


def estimate_sigma(groups: Sequence[Sequence[float]]) -> float | None:
    """The pooled run-to-run standard deviation from groups of repeated runs of one commit each.

    Each group with two or more runs contributes its squared deviations with ``runs - 1`` degrees
    of freedom. None when no group has a repeat; 0.0 when every repeat matched exactly.
    """
    squares, degrees = 0.0, 0
    for group in groups:
        if len(group) < 2:
            continue
        degrees += len(group) - 1
        if min(group) == max(group):
            continue  # exactly zero, where the float mean could leave a residue
        mean = stats.mean(group)
        squares += sum((value - mean) ** 2 for value in group)
    if degrees == 0:
        return None
    return math.sqrt(squares / degrees)


def cautious_sigma(groups: Sequence[Sequence[float]]) -> float | None:
    """``spread.robust_sigma`` widened while it rests on few runs.

    Two runs that happen to agree give a sigma far too small, and then noise looks significant.
    Scaling by Student's t over the normal quantile at the rule's level, for the estimate's
    degrees of freedom, makes the rule's z-test a t-test: 2.4x wider on one degree of freedom,
    1.07x on ten, and the plain estimate in the limit.
    """
    sigma = spread.robust_sigma(groups)
    if not sigma:
        return sigma
    degrees = sum(len(group) - 1 for group in groups if len(group) > 1)
    return sigma * t_quantile(1.0 - ALPHA, degrees) / _z_alpha()
