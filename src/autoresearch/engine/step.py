"""The experiment step, the one thing the tool exists for, read top to bottom:

    collect the candidate -> commit -> pin -> measure (repeats, guard, holdout) -> decide
    -> record the row (flushed) -> settle (move the keep ref, or reset the tree)

A kill at any point leaves either an experiment in flight, which the next command finishes or
records as interrupted (``recovery``), or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from autoresearch.engine import candidate, record
from autoresearch.engine.experiment import Experiment, Interrupted
from autoresearch.engine.measure import (
    UNWATCHED,
    Measurement,
    Measuring,
    RunOutcome,
    Watch,
    measure,
)
from autoresearch.engine.session import Session
from autoresearch.rules import columns, verdict
from autoresearch.store import git, runner, signals
from autoresearch.store.executors import Executor
from autoresearch.store.files import now, write_json
from autoresearch.store.ledger import append_row, sanitize


def try_candidate(
    session: Session,
    description: str,
    watch: Watch = UNWATCHED,
    tokens: int | None = None,
    cost_usd: float | None = None,
    first: RunOutcome | None = None,
    executor: Executor | None = None,
) -> Experiment:
    """Commit what differs from the keep ref, measure it, decide and record. Hold the lock.

    ``first``: a run of this very candidate made already, which counts as its first;
    ``executor``: where the runs happen (None: in the repository itself). Raises
    ``Interrupted`` (with the recorded experiment) after Ctrl-C, SIGTERM or SIGHUP.
    """
    session.require_run()
    description = sanitize(description) or "(no description)"
    experiment: Experiment | None = None
    interrupted = False
    try:
        # Signals wait until the books agree; they act at once only while a run goes.
        with signals.deferred():
            experiment, interrupted = _step(
                session, description, watch, tokens, cost_usd, first, executor
            )
    except KeyboardInterrupt:
        if experiment is None:
            raise
        interrupted = True  # held while the experiment was recorded: it stands, then we stop
    if interrupted:
        raise Interrupted(experiment)
    return experiment


def _step(
    session: Session,
    description: str,
    watch: Watch,
    tokens: int | None,
    cost_usd: float | None,
    first: RunOutcome | None,
    executor: Executor | None,
) -> tuple[Experiment, bool]:
    """The experiment, and whether its run was interrupted."""
    found = candidate.find(session)
    keep, ledger = found.keep, found.ledger
    commit = candidate.commit(session, found, description)
    with git.pinning(session.repo, found.exp_ref, keep, commit) as pinned:
        inflight = {
            "experiment": found.number,
            "commit": pinned.commit,
            "keep": keep,
            "description": description,
            "started": now(),
            "budget": session.settings.budget,
            "group": None,
        }
        # Not fsynced: the record is for a kill of the tool, which the rename survives. Only a
        # power cut in the run's first seconds could lose it (the kernel writes it back within
        # half a minute), and then no result is lost: the commit is simply measured again.
        write_json(session.files.inflight_json, inflight, durable=False)
        job = measuring(
            session, found.number, pinned.commit, inflight, watch, first=first, executor=executor
        )
        baseline = next((r.value for r in ledger.rows if r.status == verdict.KEEP), None)
        measured = measure(job, keep, found.best, baseline, pinned.line_counts)
    status = measured.verdict.status
    resetting = status == verdict.DISCARD or measured.interrupted
    with git.stray_edits_snapshot(session.repo, wanted=resetting) as strays:
        record_row(session, pinned.commit, measured, description, tokens, cost_usd)
        settled = pinned.commit if status == verdict.KEEP else keep
        entry = record.start_experiment(session, found.number, status, settled)
        keep_after, pinned_edits = settle(
            session, status, pinned.commit, keep, measured.interrupted, snapshot=strays
        )
    if entry is not None:
        session.finish_record(entry)
    os.unlink(session.files.inflight_json)
    experiment = _experiment(session, found, pinned.commit, measured, keep_after, description)
    if pinned_edits:
        note = f"edits made to tracked files during the run: kept at {pinned_edits}"
        experiment = experiment._replace(notes=(*experiment.notes, note))
    return experiment, measured.interrupted


def measuring(
    session: Session,
    number: int,
    commit: str,
    inflight: Mapping[str, Any],
    watch: Watch = UNWATCHED,
    **where: Any,
) -> Measuring:
    """What measuring experiment ``number`` needs to know of its session, and no more
    (``where``: the first run made already, the executor, devices, in-flight path)."""
    return Measuring(
        session.repo,
        session.files,
        session.settings,
        session.patterns,
        session.meta.protected,
        number,
        commit,
        inflight,
        watch,
        **where,
    )


def record_row(
    session: Session,
    commit: str,
    measured: Measurement,
    description: str,
    tokens: int | None = None,
    cost_usd: float | None = None,
    extra: Mapping[str, object] | None = None,
) -> None:
    """Append the experiment's ledger row and flush it to disk (``extra``: more cells, such
    as the base and worker of a parallel experiment)."""
    cells: dict[str, object] = {
        name: (0.0 if value is None else value) for name, value in measured.metrics.items()
    }
    if session.settings.holdout_column:
        cells[session.settings.holdout_column] = measured.holdout
    spread = measured.spread
    run_values: dict[str, object] = {
        "runs": len(measured.values),
        "spread": None if spread is None else float(f"{spread:.6g}"),
        "seconds": f"{measured.seconds:.1f}",
        "tokens": tokens,
        "cost_usd": cost_usd,
    }
    # Under the names this session's ledger gives them: a metric may be called `seconds`.
    names = columns.run_column_names(session.patterns)
    cells.update({names[role]: value for role, value in run_values.items()})
    cells.update(commit=commit[:7], status=measured.verdict.status, description=description)
    cells.update(extra or {})
    append_row(session.files.ledger, cells)


def settle(
    session: Session,
    status: str,
    commit: str,
    keep: str,
    interrupted: bool = False,
    recovering: bool = False,
    snapshot: git.Pending | None = None,
) -> tuple[str, str | None]:
    """After the row is on disk: move the keep ref, or reset the tree to it.

    Returns the keep ref after, and the ref holding uncommitted edits that a reset had to clear
    (None when there were none). ``snapshot``: ``git.start_snapshot`` begun since the run ended.
    """
    if status == verdict.KEEP:
        git.update_ref(session.repo, session.keep_ref_name, commit)
        if recovering and git.head(session.repo) != commit:
            git.reset_hard(session.repo, commit)
        return commit, None
    if status == verdict.DISCARD or interrupted:
        return keep, session.restore(keep, tried=commit, snapshot=snapshot)
    return keep, None


def crash_metrics(session: Session) -> Mapping[str, float | None]:
    """The metrics of an experiment that gave none: every one recorded as 0."""
    return dict.fromkeys(session.patterns)


def _experiment(
    session: Session,
    found: candidate.Found,
    commit: str,
    measured: Measurement,
    keep_after: str,
    description: str,
) -> Experiment:
    crashed = measured.verdict.status == verdict.CRASH
    log = measured.log or session.files.archived_log(found.number, commit)
    return Experiment(
        number=found.number,
        commit=commit,
        status=measured.verdict.status,
        reason=measured.verdict.reason,
        metric=session.settings.metric,
        value=None if crashed else measured.metrics.get(session.settings.metric),
        metrics=dict(measured.metrics),
        best_before=found.best,
        keep_ref=keep_after,
        seconds=measured.seconds,
        description=description,
        log=os.path.relpath(log, session.repo),
        tail=runner.tail(log) if crashed else (),
        runs=len(measured.values),
        spread=measured.spread,
        holdout=measured.holdout,
        notes=(measured.holdout_note,) if measured.holdout_note else (),
    )
