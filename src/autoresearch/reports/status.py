"""What `status` reports: counts and bests from any ledger, plus the live state of a session."""

from __future__ import annotations

import os
import time
from typing import Any

from autoresearch.engine import record
from autoresearch.engine.session import Session
from autoresearch.rules import verdict
from autoresearch.rules.noise import noise_sigma
from autoresearch.store import git
from autoresearch.store.files import lock_holder, read_json, read_runs
from autoresearch.store.ledger import STATUSES, Ledger, Row

RECENT_ROWS = 10


def guess_direction(book: Ledger) -> str:
    """A ledger without settings: kept values move towards better, so their trend tells."""
    kept = [r.value for r in book.rows if r.status == verdict.KEEP]
    if len(kept) >= 2 and kept[-1] > kept[0]:
        return "maximize"
    return "minimize"


def best_kept(rows: list[Row], direction: str) -> Row | None:
    kept = [r for r in rows if r.status == verdict.KEEP]
    if not kept:
        return None
    pick = min if direction == "minimize" else max
    return pick(kept, key=lambda r: r.value)


def summarize(book: Ledger, direction: str, keep_commit: str | None = None) -> dict[str, Any]:
    rows = book.rows
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    kept = [r for r in rows if r.status == verdict.KEEP]
    baseline = kept[0] if kept else None
    best: Row | None = None
    if keep_commit is not None:
        best = book.kept_row(keep_commit)
    if best is None and keep_commit is None:
        best = best_kept(rows, direction)
    change = None
    if best is not None and baseline is not None:
        change = verdict.change_percent(best.value, baseline.value)
    return {
        "metric": book.metric,
        "direction": direction,
        "baseline": baseline.value if baseline else None,
        "best": best.value if best else None,
        "best_commit": best.commit if best else None,
        "change_percent": change,
        "experiments": len(rows),
        "keeps": counts.get("keep", 0),
        "discards": counts.get("discard", 0),
        "crashes": counts.get("crash", 0),
        "keep_rate": counts.get("keep", 0) / len(rows) if rows else None,
        "recent": [
            {"commit": r.commit, "value": r.value, "status": r.status, "description": r.description}
            for r in rows[-RECENT_ROWS:]
        ],
        "ledger_problems": book.problems,
    }


# What only a session knows. A ledger read alone still carries these keys, as null (rewinds as an
# empty list), so that a script reads one shape of `status --json` whichever it was given.
SESSION_KEYS = (
    "tag",
    "branch",
    "keep_ref",
    "experiments_per_hour",
    "running",
    "crashed_candidate",
    "budget",
    "noise",
    "holdout",
    "record",
)


def ledger_status(book: Ledger, direction: str) -> dict[str, Any]:
    """The status of a ledger file on its own, with no session behind it."""
    return {**dict.fromkeys(SESSION_KEYS), "rewinds": [], **summarize(book, direction)}


def session_status(session: Session) -> dict[str, Any]:
    differences = record.report(session)
    if differences and session.record is not None:
        book, keep, settings = record.recorded_view(session)  # not the changed numbers
    else:
        book, keep, settings = session.read_ledger(), session.keep_ref(), session.settings
    summary = summarize(book, settings.direction, keep_commit=keep)
    imported = session.meta.imported
    imported_rows = 0
    if imported is not None:
        imported_rows = int(imported.get("rows") or 0)
        last = imported.get("last_keep")
        if summary["best"] is None and imported.get("keep_ref") == keep and last:
            summary = summarize(book, settings.direction, keep_commit=last["commit"])
    created = session.meta.created or time.time()
    ledger_file = session.files.ledger
    last_activity = os.stat(ledger_file).st_mtime if os.path.exists(ledger_file) else time.time()
    hours = max(last_activity - created, 1.0) / 3600
    head = git.head(session.repo)
    waiting_crash = None
    if head and head != keep:
        tried = book.row_for(head[:7])
        if tried is not None and tried.status == verdict.CRASH:
            waiting_crash = head[:7]
    summary.update(
        tag=session.tag,
        branch=f"autoresearch/{session.tag}",
        metric=settings.metric,
        keep_ref=keep[:7],
        experiments_per_hour=max(len(book.rows) - imported_rows, 0) / hours,
        running=_running(session),
        crashed_candidate=waiting_crash,
        rewinds=[
            {
                "from": r["from"][:7],
                "to": r["to"][:7],
                "after_experiments": r.get("experiments_before"),
            }
            for r in session.meta.rewinds
        ],
        budget=settings.budget,
        noise=noise_status(session),
        holdout=holdout_trend(book, settings.holdout_column, keep),
        record=differences,
    )
    return summary


def noise_status(session: Session) -> dict[str, Any]:
    runs = read_runs(session.files)
    sigma = noise_sigma(session.settings.noise, runs)
    per_commit: dict[str, int] = {}
    for run in runs:
        per_commit[str(run["commit"])] = per_commit.get(str(run["commit"]), 0) + 1
    repeated = sum(n for n in per_commit.values() if n > 1)
    return {"mode": session.settings.noise, "sigma": sigma, "repeated_runs": repeated}


def holdout_trend(book: Ledger, column: str | None, keep: str) -> dict[str, Any] | None:
    """The hidden metric across the keeps: for people, never for the agent's prompt."""
    if column is None:
        return None
    kept = [(r.commit, r.number(column)) for r in book.rows if r.status == verdict.KEEP]
    measured = [(commit, value) for commit, value in kept if value is not None]
    current = next((v for c, v in reversed(measured) if keep.startswith(c)), None)
    return {
        "column": column,
        "baseline": measured[0][1] if measured else None,
        "best": current,
        "trend": [value for _, value in measured],
    }


def _running(session: Session) -> dict[str, Any] | None:
    inflight = read_json(session.files.inflight_json)
    if inflight is None:
        return None
    holder = lock_holder(session.files)
    return {
        "experiment": inflight.get("experiment"),
        "commit": str(inflight.get("commit", ""))[:7],
        "description": inflight.get("description"),
        "elapsed": time.time() - float(inflight.get("started") or time.time()),
        "budget": inflight.get("budget"),
        "pid": holder,
        "alive": holder is not None,
    }
