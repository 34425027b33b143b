"""One recorded experiment, as the verdict line, ``--json`` and the loop report it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from autoresearch.rules import verdict


class Experiment(NamedTuple):
    """One recorded experiment, as the verdict line and ``--json`` report it."""

    number: int
    commit: str
    status: str
    reason: str
    metric: str
    value: float | None
    metrics: dict[str, float | None]
    best_before: float | None
    keep_ref: str
    seconds: float
    description: str
    log: str
    tail: Sequence[str] = ()
    runs: int = 1
    spread: float | None = None
    holdout: float | None = None
    notes: Sequence[str] = ()

    def to_json(self) -> dict[str, object]:
        change = None
        if self.value is not None and self.best_before is not None:
            change = verdict.change_percent(self.value, self.best_before)
        return {
            "experiment": self.number,
            "commit": self.commit,
            "status": self.status,
            "reason": self.reason,
            "metric": self.metric,
            "value": self.value,
            "metrics": self.metrics,
            "best_before": self.best_before,
            "change_percent": change,
            "keep_ref": self.keep_ref,
            "seconds": round(self.seconds, 3),
            "description": self.description,
            "log": self.log,
            "tail": list(self.tail),  # a crash's last log lines: what an agent needs to fix it
            "runs": self.runs,
            "spread": self.spread,
            "notes": list(self.notes),
        }


class Interrupted(Exception):
    """Ctrl-C during a run: the experiment was recorded as interrupted and the tree restored."""

    def __init__(self, experiment: Experiment) -> None:
        super().__init__("interrupted")
        self.experiment = experiment
