"""What a candidate is compared with: the run-to-run noise, the keep ref's runs, the bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autoresearch.rules.settings import Settings
from autoresearch.rules.verdict import cautious_sigma

# The keep ref's latest runs are its reference: runs from long ago miss how the machine drifted.
REFERENCE_RUNS = 4


def noise_sigma(
    settings: Settings, runs: Sequence[Mapping[str, Any]], keep: str | None = None
) -> float | None:
    """The run-to-run noise the verdict assumes, for the session's ``noise`` setting and its
    recorded runs: None means the plain rule."""
    if settings.noise == "off":
        return None
    if settings.noise != "auto":
        return settings.parsed.sigma
    return session_noise(runs, keep)


def session_noise(runs: Sequence[Mapping[str, Any]], keep: object = None) -> float | None:
    """The noise measured in a session's runs: the noise between repeats of one commit, pooled
    over every commit; once the keep ref has been run again in later experiments, minutes apart,
    the larger of that and the spread of the keep ref's latest runs, which also shows how far the
    machine drifts. (Its runs' spread is the lower-quartile pairwise difference too, so
    that a spike among them counts as little as any other run.)"""
    groups: dict[str, list[float]] = {}
    for run in runs:
        groups.setdefault(str(run["commit"]), []).append(float(run["value"]))
    pooled = cautious_sigma(list(groups.values()))
    own = [run for run in runs if keep is not None and str(run["commit"]) == str(keep)]
    own = own[-REFERENCE_RUNS * 2 :]
    if pooled is None or len({run.get("experiment") for run in own}) < 2:
        return pooled
    over_time = cautious_sigma([[float(run["value"]) for run in own]])
    return pooled if over_time is None else max(pooled, over_time)


def reference_runs(
    runs: Sequence[Mapping[str, Any]], keep: object, best: float | None
) -> tuple[float, ...]:
    """The keep ref's latest runs; its ledger value alone when its runs are not recorded (an
    import)."""
    values = tuple(float(r["value"]) for r in runs if str(r["commit"]) == str(keep))
    return values[-REFERENCE_RUNS:] or ((best,) if best is not None else ())
