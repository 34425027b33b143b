"""The experiment step, the one thing the tool exists for, read top to bottom:

    collect the candidate -> commit -> begin (pin, the record's begin entry, in-flight file
    naming it) -> measure and judge (repeats, guard, holdout) -> finish (the record's entry with
    the row -> ledger row, flushed -> move the keep ref or reset the tree -> in-flight file gone)

``begin`` and ``finish`` are the two halves every driver calls: `try` and the sequential loop
through ``try_candidate``, the parallel loop through the scheduler, recovery after a kill through
``finish`` alone. So the order of the bookkeeping (the ledger row on disk before the keep ref
moves) is written once.

A kill at any point leaves either an experiment in flight, which the next command finishes or
records as interrupted (``inflight.recover_inflight``), or nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from autoresearch.engine import candidate, record
from autoresearch.engine.experiment import Experiment, Interrupted
from autoresearch.engine.judging import measure_and_judge
from autoresearch.engine.measure import (
    UNWATCHED,
    MeasureJob,
    Measurement,
    RunOutcome,
    Watch,
)
from autoresearch.engine.run_environment import shown_tail
from autoresearch.engine.session import Session
from autoresearch.rules import columns, verdict
from autoresearch.store import git, journal, signals
from autoresearch.store.executors import Executor
from autoresearch.store.files import append_lines, now, write_json
from autoresearch.store.ledger import render_row, sanitize


class Attempt(NamedTuple):
    """What an attempt brought with its candidate: what it says it tried, and what asking the
    agent for it cost."""

    description: str
    tokens: int | None = None
    cost_usd: float | None = None


class Planned(NamedTuple):
    """A committed candidate, waiting to be measured."""

    commit: str
    base: str  # the keep ref it was built on
    attempt: Attempt
    rebased_from: str | None = None  # the commit that beat its base, carried onto a newer keep

    @property
    def description(self) -> str:
        return self.attempt.description


class Begun(NamedTuple):
    """An experiment pinned and written down as in flight, not yet judged."""

    number: int
    commit: str
    base: str  # the keep ref it is measured against
    attempt: Attempt
    best: float | None  # the base's metric
    inflight_path: str
    inflight: Mapping[str, Any]
    worker: str | None = None  # None: the candidate is the user's own tree, HEAD at it


def try_candidate(
    session: Session,
    attempt: Attempt,
    watch: Watch = UNWATCHED,
    first: RunOutcome | None = None,
    executor: Executor | None = None,
) -> Experiment:
    """Commit what differs from the keep ref, measure it, decide and record. Hold the lock.

    ``first``: a run of this very candidate made already, which counts as its first;
    ``executor``: where the runs happen (None: in the repository itself). Raises
    ``Interrupted`` (with the recorded experiment) after Ctrl-C, SIGTERM or SIGHUP.
    """
    session.require_run()
    attempt = attempt._replace(description=sanitize(attempt.description) or "(no description)")
    experiment: Experiment | None = None
    interrupted = False
    try:
        # Signals wait until the books agree; they act at once only while a run goes.
        with signals.deferred():
            experiment, interrupted = _step(session, attempt, watch, first, executor)
    except KeyboardInterrupt:
        if experiment is None:
            raise
        interrupted = True  # held while the experiment was recorded: it stands, then we stop
    if interrupted:
        raise Interrupted(experiment)
    return experiment


def _step(
    session: Session,
    attempt: Attempt,
    watch: Watch,
    first: RunOutcome | None,
    executor: Executor | None,
) -> tuple[Experiment, bool]:
    """The experiment, and whether its run was interrupted."""
    found = candidate.find(session)
    commit = candidate.commit(session, found, attempt.description)
    # The pin and the count of the candidate's lines run side by side (each git call is a
    # process start, and a try is mostly such starts); the count overlaps the run.
    with git.pinning(session.repo, found.exp_ref, found.keep, commit) as pinned:
        planned = Planned(pinned.commit, found.keep, attempt)
        begun = begin(session, found.number, planned, found.best)
        job = measure_job(session, begun, watch, first=first, executor=executor)
        measured = measure_and_judge(job, _baseline(session), pinned.line_counts)
    return finish(session, begun, measured), measured.interrupted


def begin(
    session: Session, number: int, planned: Planned, best: float | None, worker: str | None = None
) -> Begun:
    """Write experiment ``number`` (``planned``, its commit pinned already) down as in flight
    (``best``: its base's metric; ``worker``: where it runs, None for the user's own tree).

    Not fsynced: the in-flight file is for a kill of the tool, which the rename survives. Only a
    power cut in the run's first seconds could lose it (the kernel writes it back within half
    a minute), and then no result is lost: the commit is simply measured again.
    """
    commit, base, attempt = planned.commit, planned.base, planned.attempt
    begun = {
        "experiment": number,
        "commit": commit,
        "base": base,
        "description": attempt.description,
        "started": now(),
        "worker": worker,
    }
    # The record begins the experiment first: recovery after a kill finishes only an in-flight
    # file that names this entry, never one written by anyone else.
    session.write_record({"kind": "begin", **begun}, keep=keep_now(session, base, worker))
    inflight = {
        **begun,
        "keep": base,
        "entry": session.record.commit if session.record else None,
        "budget": session.settings.budget,
        "group": None,
    }
    path = session.files.inflight_json if worker is None else session.files.inflight_file(number)
    write_json(path, inflight, durable=False)
    session.running[number] = (commit, base)
    return Begun(number, commit, base, attempt, best, path, inflight, worker)


def pin(session: Session, number: int, commit: str) -> None:
    """Pin ``commit`` as experiment ``number``; a commit found under that name already (its row
    was taken out of the ledger by hand, or a kill came before its row) stays pinned beside."""
    ref = session.exp_ref(number)
    candidate.free_pin(session, ref, git.resolve(session.repo, ref))
    git.create_ref(session.repo, ref, commit)


def measure_job(
    session: Session, begun: Begun, watch: Watch = UNWATCHED, **where: Any
) -> MeasureJob:
    """What measuring ``begun`` needs to know of its session, and no more (``where``: the first
    run made already, the executor, devices)."""
    return MeasureJob(
        session.repo,
        session.files,
        session.settings,
        session.patterns,
        session.meta.protected,
        begun.number,
        begun.commit,
        begun.base,
        begun.best,
        begun.inflight,
        watch,
        inflight_path=begun.inflight_path,
        confine=session.confine,
        pin_edits=session.abandoned_ref,
        **where,
    )


def _baseline(session: Session) -> float | None:
    """The session's first kept value, against which percentages of --min-delta are taken."""
    return next((r.value for r in session.read_ledger().rows if r.status == verdict.KEEP), None)


def finish(
    session: Session, begun: Begun, measured: Measurement, recovering: bool = False
) -> Experiment:
    """Record a judged experiment: its entry in the record first, then its ledger row
    (flushed), then the keep ref moves or the tree is reset, then the in-flight file goes. The
    entry holds this row and these runs, whatever else the files gained meanwhile."""
    status = measured.verdict.status
    in_tree = begun.worker is None
    resetting = in_tree and (status == verdict.DISCARD or measured.interrupted)
    keep_after = (
        begun.commit if status == verdict.KEEP else keep_now(session, begun.base, begun.worker)
    )
    # Cut short by a kill, the runs it made are not known here: any run of it is its own.
    values = None if recovering else measured.values
    with git.stray_edits_snapshot(session.repo, wanted=resetting and not recovering) as strays:
        row = render_row(session.files.ledger, row_cells(session, begun, measured))
        references = None if recovering else measured.references
        runs = {
            **session.own_runs(),
            (begun.number, begun.base): references,
            (begun.number, begun.commit): values,  # the baseline is its own base
        }
        written = journal.Written((row,), runs, rows_on_disk=False)
        entry = record.start_experiment(
            session, record.Outcome(begun.number, status, keep_after, written)
        )
        if entry is not None:
            # The record holds the row before the ledger does: after a kill, the next command
            # writes the row the record has, and never takes one from a file.
            session.finish_record(entry)
            append_lines(session.files.ledger, [row])
        tree_notes = settle(session, begun, measured, recovering, strays)
    session.running.pop(begun.number, None)
    if os.path.exists(begun.inflight_path):
        os.unlink(begun.inflight_path)
    experiment = _experiment(session, begun, measured, keep_after)
    return experiment._replace(notes=(*experiment.notes, *tree_notes))


def keep_now(session: Session, base: str, worker: str | None) -> str:
    """The keep ref, unless an experiment on ``base`` (run by ``worker``) moves it: as the
    record has it (what the ref says could have been moved by anyone), else its base when the
    candidate is the user's tree (nothing else moves it meanwhile), else the ref read again."""
    if session.record is not None:
        return session.record.keep
    return base if worker is None else session.keep_ref()


def row_cells(session: Session, begun: Begun, measured: Measurement) -> dict[str, object]:
    """The experiment's ledger row, by column (a parallel experiment's row also names its base
    and its worker)."""
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
        "tokens": begun.attempt.tokens,
        "cost_usd": begun.attempt.cost_usd,
    }
    # Under the names this session's ledger gives them: a metric may be called `seconds`.
    names = columns.run_column_names(session.patterns)
    cells.update({names[role]: value for role, value in run_values.items()})
    description = begun.attempt.description
    cells.update(commit=begun.commit[:7], status=measured.verdict.status, description=description)
    if measured.verdict.status == verdict.CRASH:
        # The metric cells hold the 0 placeholder: this says what they stand for.
        cells[columns.REASON_COLUMN] = measured.verdict.reason
    if begun.worker is not None:
        cells.update(base=begun.base[:7], worker=begun.worker)
    return cells


def settle(
    session: Session,
    begun: Begun,
    measured: Measurement,
    recovering: bool = False,
    snapshot: git.Pending | None = None,
) -> tuple[str, ...]:
    """After the row is on disk: move the keep ref, and bring the user's tree to it; returns
    what became of the user's edits, in words (nothing: they needed nothing).

    A candidate in the user's tree is reset away unless it was kept, or crashed (it waits for a
    fix); one run elsewhere leaves the tree alone unless it was kept. ``snapshot``:
    ``git.start_snapshot`` begun since the run ended.
    """
    status, commit = measured.verdict.status, begun.commit
    if status == verdict.KEEP:
        git.update_ref(session.repo, session.keep_ref_name, commit)
    if begun.worker is not None:
        if status == verdict.KEEP:
            with contextlib.suppress(git.GitError):
                session.restore(commit)  # the user's tree follows the keep ref
        return ()
    if status == verdict.KEEP:
        if recovering and git.head(session.repo) != commit:
            git.reset_hard(session.repo, commit)
        return ()
    if recovering and measured.interrupted:
        return (_back_to_keep(session, begun),)
    if status == verdict.DISCARD or measured.interrupted:
        ref = session.restore(begun.base, tried=commit, snapshot=snapshot)
        return (f"edits made to tracked files during the run: kept at {ref}",) if ref else ()
    return ()


def _back_to_keep(session: Session, begun: Begun) -> str:
    """Return to the keep ref after an interrupted experiment; in words, what became of the tree.

    Edits made since the kill, on top of the interrupted candidate, are the user's next try (a
    fix of it, most likely): they stay in the tree, with the candidate's own changes, as
    uncommitted changes on the keep ref; so do edits on top of the keep ref itself, where the kill
    came while it ran again in the tree. Without such edits the tree is reset to the keep ref.
    """
    keep = begun.base
    head = git.head(session.repo)
    if head == begun.commit and git.status(session.repo).changed:
        git.reset_keeping_tree(session.repo, keep)
        return (
            f"HEAD back at the keep ref {keep[:7]}; your edits since, on top of its changes, "
            "are left uncommitted for the next try"
        )
    if head == keep and git.status(session.repo).changed:
        # Killed while the keep ref ran again in the tree: edits since are on top of it.
        return f"HEAD at the keep ref {keep[:7]}; your edits since are left uncommitted"
    ref = session.restore(keep)
    kept = f" (uncommitted edits kept at {ref})" if ref else ""
    return f"tree restored to the keep ref {keep[:7]}{kept}"


def interrupted_measurement(session: Session, started: float) -> Measurement:
    """What an experiment whose command was killed mid-run comes to: a crash, every metric 0."""
    return Measurement(
        verdict.Verdict(verdict.CRASH, "interrupted"),
        metrics=dict.fromkeys(session.patterns),
        seconds=now() - started,
        interrupted=True,
    )


def _experiment(
    session: Session, begun: Begun, measured: Measurement, keep_after: str
) -> Experiment:
    crashed = measured.verdict.status == verdict.CRASH
    log = measured.log or session.files.archived_log(begun.number, begun.commit)
    return Experiment(
        number=begun.number,
        commit=begun.commit,
        status=measured.verdict.status,
        reason=measured.verdict.reason,
        metric=session.settings.metric,
        value=None if crashed else measured.metrics.get(session.settings.metric),
        metrics=dict(measured.metrics),
        best_before=begun.best,
        keep_ref=keep_after,
        seconds=measured.seconds,
        description=begun.attempt.description,
        log=os.path.relpath(log, session.repo),
        tail=shown_tail(log) if crashed else (),
        runs=len(measured.values),
        spread=measured.spread,
        holdout=measured.holdout,
        notes=(*measured.notes, *((measured.holdout_note,) if measured.holdout_note else ())),
    )
