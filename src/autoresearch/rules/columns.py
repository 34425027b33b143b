"""The ledger's column names: which ones the tool writes, and how a metric keeps its own name.

A metric may be called anything a run prints, ``seconds`` and ``tokens`` included: when a
metric takes the name of a column the tool writes for each experiment, that column is written
under another name (``seconds`` -> ``wall_seconds``). Only a name that could not be told apart
from a column is refused. Pure: names in, names out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from autoresearch.errors import UserError

# Every ledger has these; a metric of the same name could not be told apart from them.
STRUCTURAL = ("commit", "status", "description")
# Columns the tool writes after the metrics of each experiment, in this order.
RUN_COLUMNS = ("runs", "spread", "seconds", "tokens", "cost_usd")
# A session started with parallel runs also records the keep ref each candidate was built on
# and the worker (and devices) that ran it, after the run columns.
PARALLEL_COLUMNS = ("base", "worker")
# Why a crash crashed (its metric cells hold the 0 placeholder), in words; empty otherwise.
# Just before status, where Karpathy's format allows extra columns.
REASON_COLUMN = "reason"
# The name a run column takes when a metric has its own.
RENAMED = {
    "runs": "run_count",
    "spread": "run_spread",
    "seconds": "wall_seconds",
    "tokens": "agent_tokens",
    "cost_usd": "agent_cost_usd",
}


def run_column_names(metrics: Iterable[str]) -> dict[str, str]:
    """What each run column is called in a ledger recording these metrics."""
    taken = set(metrics)
    return {role: RENAMED[role] if role in taken else role for role in RUN_COLUMNS}


def header(metrics: Sequence[str], holdout: str | None = None, parallel: bool = False) -> list[str]:
    """The ledger's columns: commit, the metrics (primary first), run columns, a crash's reason,
    status, description."""
    runs = list(run_column_names(metrics).values())
    workers = list(PARALLEL_COLUMNS) if parallel else []
    holdouts = [holdout] if holdout else []
    return ["commit", *metrics, *runs, *workers, *holdouts, REASON_COLUMN, "status", "description"]


def run_column(columns: Sequence[str], role: str) -> str | None:
    """The column holding a run column's values in a ledger with this header (None: none).

    The tool writes run columns after the metrics, so of the role's two names the last one in
    the header is the tool's: ``commit seconds runs spread wall_seconds ...`` records a metric
    called ``seconds`` and the wall time in ``wall_seconds``.
    """
    names = (role, RENAMED[role])
    found = [column for column in columns if column in names]
    return found[-1] if found else None


def _column_named(name: str) -> str | None:
    """Which of the ledger's own columns ``name`` is, in words; None when it is none."""
    if name in STRUCTURAL:
        return "a column every ledger has"
    if name == REASON_COLUMN:
        return "the ledger's column of a crash's reason"
    if name in PARALLEL_COLUMNS:
        return "a column of sessions with parallel runs"
    return None


def refuse_ambiguous(metrics: Sequence[str], holdout: str | None = None) -> None:
    """A one-line UserError for metric names that could not be told apart in the ledger."""
    seen: set[str] = set()
    for name in metrics:
        taken = _column_named(name)
        if taken is not None:
            raise UserError(
                f"metric name {name!r} is {taken}; choose another (--pattern reads the main "
                "metric under any name)"
            )
        if name in seen:
            raise UserError(f"metric {name!r} is named twice")
        seen.add(name)
    for role, renamed in RENAMED.items():
        if role in seen and renamed in seen:
            raise UserError(
                f"metrics {role!r} and {renamed!r} together leave no name for the "
                f"ledger's {role} column; choose another name for one"
            )
    if holdout is not None and holdout in seen:
        raise UserError(f"metric {holdout!r} has the name of the holdout column")
