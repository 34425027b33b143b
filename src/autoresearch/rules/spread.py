"""How far the runs of one commit stray from each other: a pooled run-to-run sigma that one wild
run cannot inflate, and which runs lie so far outside it that they are set aside.

Timing metrics on a shared machine have heavy tails: most runs agree within a few microseconds
and now and then one lands hundreds away (another job's load spike). A standard deviation
squares those, so one spike can set the noise for the whole session, and a mean lets one spike
decide a verdict. Here sigma is the lower quartile of the absolute differences between pairs of
runs of one commit, scaled to a standard deviation for Gaussian noise (the Qn estimator of
Rousseeuw and Croux, on the pairs within each commit), and a run that no other run of its commit
comes near is evidence of a spike, not of the commit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence


@functools.lru_cache(maxsize=1)
def _pair_scale() -> float:
    # For Gaussian runs, |a - b| is sqrt(2) sigma |Z|, whose lower quartile is sqrt(2) times
    # the normal's 62.5% quantile (Qn's constant, 1 / 2.2219). The statistics module is imported
    # only when noise is judged.
    import statistics

    return math.sqrt(2.0) * statistics.NormalDist().inv_cdf(0.625)


def pair_differences(groups: Sequence[Sequence[float]]) -> list[float]:
    """Every absolute difference between two runs of the same commit."""
    return [
        abs(group[i] - group[j])
        for group in groups
        for i in range(len(group))
        for j in range(i + 1, len(group))
    ]


def robust_sigma(groups: Sequence[Sequence[float]]) -> float | None:
    """The run-to-run standard deviation from groups of runs of one commit each, as the lower
    quartile of the pairwise differences: up to three pairs in four may hold a spike before it
    moves. A median is not enough where it matters most, early in a session: of a baseline's
    three runs with one spike, two of the three pairs hold it, and a sigma that wide makes no
    candidate look promising, so none is repeated and sigma never learns better.

    None when no group has a repeat; 0.0 only when every repeat matched exactly.
    """
    differences = pair_differences(groups)
    if not differences:
        return None
    if not any(differences):
        return 0.0  # a deterministic metric: settled without loading the statistics module
    quartile = sorted(differences)[(len(differences) - 1) // 4]
    if quartile == 0:
        # A coarsely printed metric matches itself more often than not, and still moves: the
        # mean difference (sigma * 2 / sqrt(pi) for Gaussian runs) is then the estimate.
        import statistics

        return statistics.fmean(differences) * math.sqrt(math.pi) / 2.0
    return quartile / _pair_scale()


def uncorroborated(values: Sequence[float], index: int, reach: float) -> bool:
    """Whether no other run of ``values`` comes within ``reach`` of run ``index``."""
    value = values[index]
    return all(abs(value - other) > reach for i, other in enumerate(values) if i != index)


def typical_runs(values: Sequence[float], reach: float) -> tuple[float, ...]:
    """The runs of one commit without the lone ones, those no other run comes within ``reach``
    of; all of them when that would leave fewer than two (two runs that disagree cannot say which
    one strayed)."""
    if len(values) < 3 or reach <= 0:
        return tuple(values)
    kept = tuple(v for i, v in enumerate(values) if not uncorroborated(values, i, reach))
    return kept if len(kept) >= 2 else tuple(values)
