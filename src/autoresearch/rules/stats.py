"""Small statistics on repeated runs, standard library only."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def stdev(values: Sequence[float]) -> float:
    """The sample standard deviation (n - 1), as statistics.stdev gives it."""
    center = mean(values)
    return math.sqrt(math.fsum((v - center) ** 2 for v in values) / (len(values) - 1))


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@functools.lru_cache(maxsize=64)
def normal_quantile(probability: float) -> float:
    # The statistics module costs start-up time every command would pay; only noise needs it.
    import statistics

    return statistics.NormalDist().inv_cdf(probability)


def t_quantile(probability: float, df: float) -> float:
    """Student's t quantile by the Cornish-Fisher expansion around the normal one.

    Within 1% for df >= 3 and about 10% at df = 1, which errs on the side of a narrower
    interval only where two runs could never settle anything anyway.
    """
    z = normal_quantile(probability)
    if math.isinf(df):
        return z
    v = float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )


class Difference(NamedTuple):
    """Mean of ``after`` minus mean of ``before``, with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float


def difference_of_means(
    before: Sequence[float], after: Sequence[float], confidence: float = 0.95
) -> Difference | None:
    """Welch's interval; None when either side has fewer than two runs."""
    if len(before) < 2 or len(after) < 2:
        return None
    va, vb = stdev(before) ** 2 / len(before), stdev(after) ** 2 / len(after)
    estimate = mean(after) - mean(before)
    se = math.sqrt(va + vb)
    if se == 0:
        return Difference(estimate, estimate, estimate, confidence)
    df = (va + vb) ** 2 / (va**2 / (len(before) - 1) + vb**2 / (len(after) - 1))
    half = t_quantile(0.5 + confidence / 2, df) * se
    return Difference(estimate, estimate - half, estimate + half, confidence)
