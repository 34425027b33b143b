"""What a candidate is compared with: the run-to-run noise, the keep ref's runs, the bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from autoresearch.rules.settings import Settings
from autoresearch.rules.verdict import cautious_sigma


def noise_sigma(settings: Settings, runs: Sequence[Mapping[str, Any]]) -> float | None:
    """The run-to-run noise the verdict assumes, for the session's ``noise`` setting and its
    recorded runs: None means the plain rule."""
    if settings.noise == "off":
        return None
    if settings.noise != "auto":
        return settings.parsed.sigma
    groups: dict[str, list[float]] = {}
    for run in runs:
        groups.setdefault(str(run["commit"]), []).append(float(run["value"]))
    return cautious_sigma(list(groups.values()))


def reference_runs(
    runs: Sequence[Mapping[str, Any]], keep: str, best: float | None
) -> tuple[float, ...]:
    """The keep ref's runs; its ledger value alone when its runs are not recorded (an import)."""
    values = tuple(float(r["value"]) for r in runs if str(r["commit"]) == keep)
    return values or ((best,) if best is not None else ())
