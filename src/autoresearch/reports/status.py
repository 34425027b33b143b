"""What `status` reports: counts and bests from any ledger, plus the live state of a session."""

from __future__ import annotations

import os
import time
from typing import Any

from autoresearch.engine import record
from autoresearch.engine.confine import sandbox_line
from autoresearch.engine.continued import earlier_sessions
from autoresearch.engine.session import Session
from autoresearch.reports.audit_note import keep_audit
from autoresearch.reports.summary import Chapter, Clock, SessionFacts, crash_reason, summarize
from autoresearch.rules import verdict
from autoresearch.rules.noise import noise_sigma
from autoresearch.store import git, runner
from autoresearch.store.files import lock_holder, read_json, read_runs
from autoresearch.store.ledger import Ledger

RECENT_ROWS = 10


def guess_direction(ledger: Ledger) -> str:
    """A ledger without settings: kept values move towards better, so their trend tells."""
    kept = [r.value for r in ledger.rows if r.status == verdict.KEEP]
    if len(kept) >= 2 and kept[-1] > kept[0]:
        return "maximize"
    return "minimize"


def status_of(ledger: Ledger, direction: str, clock: Clock | None = None) -> dict[str, Any]:
    """The summary's figures under the keys `status --json` documents."""
    summary = summarize(ledger, direction, clock)
    return {
        "metric": ledger.metric,
        "direction": direction,
        "baseline": summary.baseline,
        "best": summary.best,
        "best_commit": summary.best_commit or None,
        "change_percent": summary.change_pct,
        "experiments": summary.experiments,
        "keeps": summary.keeps,
        "discards": summary.discards,
        "crashes": summary.crashes,
        "keep_rate": summary.keep_rate,
        "experiments_per_hour": summary.experiments_per_hour,
        # A crash measured nothing: no value (the ledger's 0 is a placeholder), and its reason
        # where the ledger has one.
        "recent": [
            {
                "experiment": number,
                "commit": r.commit,
                "value": None if r.status == verdict.CRASH else r.value,
                "status": r.status,
                "reason": crash_reason(r) or None,
                "description": r.description,
            }
            for number, r in enumerate(ledger.rows)
            if number >= len(ledger.rows) - RECENT_ROWS
        ],
        "ledger_problems": ledger.problems,
    }


def session_clock(session: Session) -> Clock:
    """The session's start, its ledger's last write, and the rows it imported."""
    imported = session.meta.imported
    imported_rows = int(imported.get("rows") or 0) if imported is not None else 0
    created = session.meta.created or time.time()
    ledger_file = session.files.ledger
    last_write = os.stat(ledger_file).st_mtime if os.path.exists(ledger_file) else time.time()
    return Clock(created, last_write, imported_rows)


def session_facts(session: Session) -> SessionFacts:
    """What the reports show of a session beyond its ledger: its clock, the sessions before."""
    return SessionFacts(session.tag, session_clock(session), chapters(session))


def chapters(session: Session) -> tuple[Chapter, ...]:
    """The sessions this one continues, oldest first, as the views show them."""
    return tuple(
        Chapter(earlier.tag, earlier.ledger, earlier.meta.settings.direction)
        for earlier in earlier_sessions(session)
    )


# What only a session knows. A ledger read alone still carries these keys, as null (rewinds and
# changes as empty lists), so that a script reads one shape of `status --json` whichever it was
# given.
SESSION_KEYS = (
    "tag",
    "branch",
    "keep_ref",
    "keep_value",
    "running",
    "crashed_candidate",
    "budget",
    "noise",
    "sandbox",
    "holdout",
    "audit",
    "record",
)


def continued_status(session: Session) -> list[dict[str, Any]]:
    """The sessions this one continues, oldest first, each in its own numbers: a harness
    changed between them, so none is compared with the next."""
    shown = []
    for earlier in chapters(session):
        figures = summarize(earlier.ledger, earlier.direction)
        shown.append(
            {
                "tag": earlier.tag,
                "experiments": figures.experiments,
                "baseline": figures.baseline,
                "best": figures.best,
                "best_commit": figures.best_commit or None,
                "change_percent": figures.change_pct,
                "keeps": figures.keeps,
            }
        )
    return shown


def ledger_status(ledger: Ledger, direction: str) -> dict[str, Any]:
    """The status of a ledger file on its own, with no session behind it."""
    return {
        **dict.fromkeys(SESSION_KEYS),
        "rewinds": [],
        "changes": [],
        "continues": [],
        **status_of(ledger, direction),
    }


def session_status(session: Session) -> dict[str, Any]:
    differences = record.report(session)
    if differences and session.record is not None:
        ledger, keep, settings = record.recorded_view(session)  # not the changed numbers
    else:
        ledger, keep, settings = session.read_ledger(), session.keep_ref(), session.settings
    summary = status_of(ledger, settings.direction, session_clock(session))
    kept = ledger.kept_row(keep)
    head = git.head(session.repo)
    waiting_crash = None
    if head and head != keep:
        tried = ledger.row_for(head[:7])
        if tried is not None and tried.status == verdict.CRASH:
            waiting_crash = head[:7]
    summary.update(
        tag=session.tag,
        branch=f"autoresearch/{session.tag}",
        metric=settings.metric,
        keep_ref=keep[:7],
        # After a rewind the keep ref is not the best result: what the next try is judged by.
        keep_value=kept.value if kept is not None else None,
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
        changes=[
            {key: change.get(key) for key in ("key", "old", "new", "from_experiment")}
            for change in session.meta.changes
        ],
        budget=settings.budget,
        noise=noise_status(session),
        sandbox=sandbox_line(settings, session.files.sandbox_probe),
        holdout=holdout_trend(ledger, settings.holdout_column, keep),
        audit=keep_audit(session.files, keep),
        record=differences,
        continues=continued_status(session),
    )
    return summary


def noise_status(session: Session) -> dict[str, Any]:
    runs = read_runs(session.files)
    sigma = noise_sigma(session.settings, runs)
    per_commit: dict[str, int] = {}
    for run in runs:
        per_commit[str(run["commit"])] = per_commit.get(str(run["commit"]), 0) + 1
    repeated = sum(n for n in per_commit.values() if n > 1)
    return {"mode": session.settings.noise, "sigma": sigma, "repeated_runs": repeated}


def holdout_trend(ledger: Ledger, column: str | None, keep: str) -> dict[str, Any] | None:
    """The hidden metric across the keeps: for people, never for the agent's prompt."""
    if column is None:
        return None
    kept = [(r.commit, r.number(column)) for r in ledger.rows if r.status == verdict.KEEP]
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
    if inflight is None or not record.vouched(session, [inflight])[0]:
        return None  # none, or written by hand: the record's line says so
    holder = lock_holder(session.files)
    run_pid = None if holder is not None else _orphaned_run(inflight)
    return {
        "experiment": inflight.get("experiment"),
        "commit": str(inflight.get("commit", ""))[:7],
        # Set while the keep ref runs again between the candidate's repeats: its commit.
        "reference": str(inflight.get("reference") or "")[:7] or None,
        "description": inflight.get("description"),
        "elapsed": time.time() - float(inflight.get("started") or time.time()),
        "budget": inflight.get("budget"),
        "pid": holder,
        "alive": holder is not None,
        # After a kill of the tool: whether the orphaned run still holds its GPU.
        "run_alive": run_pid is not None,
        "run_pid": run_pid,
    }


def _orphaned_run(inflight: dict[str, Any]) -> int | None:
    """A process of the recorded run still alive after the tool died, if any."""
    group, run_id = inflight.get("group"), inflight.get("run_id")
    if isinstance(group, int) and runner.group_alive(group):
        return group
    found = runner.carrying(run_id) if isinstance(run_id, str) else []
    return found[0] if found else None
