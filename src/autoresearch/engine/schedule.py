"""Several experiments at once: each candidate runs on a free worker (its own checkout and
devices) and is judged against the keep ref it was built on, its base.

The verdicts stay as sound as in the sequential loop. A candidate is measured against its own
base; when the keep ref moved on meanwhile, a candidate that beat its base is carried onto the
new keep ref and measured again before it can be kept (a conflict makes it a discard, saying
so). So two candidates from one base never both become the keep ref without that check.

Only the runs happen in threads; every ledger row, pin and keep ref move happens in the caller's
thread, one at a time, in the order the sequential step does them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from autoresearch.engine import record
from autoresearch.engine.candidate import collect
from autoresearch.engine.experiment import Experiment
from autoresearch.engine.inflight import inflight_dir, workers_json
from autoresearch.engine.measure import Measurement, Measuring, Watch, measure
from autoresearch.engine.session import Session
from autoresearch.engine.step import measuring, record_row
from autoresearch.errors import UserError
from autoresearch.rules import verdict
from autoresearch.store import git, runner
from autoresearch.store.executors import Executor
from autoresearch.store.files import now, write_json
from autoresearch.store.ledger import sanitize
from autoresearch.store.rebase import rebase_onto


class Planned(NamedTuple):
    """A committed candidate waiting for a worker."""

    commit: str
    base: str  # the keep ref it was built on
    description: str
    tokens: int | None = None
    cost_usd: float | None = None
    rebased_from: str | None = None  # the commit that beat its base, carried onto a newer keep


class Running(NamedTuple):
    number: int
    planned: Planned
    worker: int
    started: float


class Settled(NamedTuple):
    """What one finished run came to: the experiment recorded, and the re-measure it asked for."""

    experiment: Experiment
    requeued: Planned | None = None


class Scheduler:
    """Runs candidates on ``executors`` (one per worker, devices given alongside), at most one
    run per worker; ``settle`` records what finished."""

    def __init__(
        self,
        session: Session,
        executors: Sequence[Executor],
        devices: Sequence[tuple[str, ...]],
        on_tick: Callable[[float], None] | None = None,
    ) -> None:
        self.session = session
        self.executors = list(executors)
        self.devices = list(devices) or [()] * len(self.executors)
        self.running: dict[int, Running] = {}  # by worker
        self.finished: queue.Queue[tuple[Running, Measurement]] = queue.Queue()
        self.stopping_now = threading.Event()
        self.on_tick = on_tick
        self._threads: list[threading.Thread] = []
        self._next_number = session.read_ledger().data_lines
        os.makedirs(inflight_dir(session), exist_ok=True)
        self._show_workers()

    # ----- preparing a candidate --------------------------------------------------------------

    def commit_candidate(
        self,
        workspace: str,
        base: str,
        description: str,
        tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> Planned:
        """Commit what the agent changed in ``workspace`` (a worktree at ``base``), refused
        like a `try` when it is out of scope or empty."""
        session = self.session
        description = sanitize(description) or "(no description)"
        head = git.head_commit(workspace)
        found = collect(workspace, base, head, session.scope)
        if found.empty:
            raise UserError("the agent made no change")
        if found.uncommitted:
            git.commit_worktree(
                workspace,
                list(found.uncommitted),
                description,
                session.meta.identity,
                bool(found.new),
            )
            head = git.head_commit(workspace)
        return Planned(head, base, description, tokens, cost_usd)

    # ----- running ------------------------------------------------------------------------------

    @property
    def free_workers(self) -> list[int]:
        return [i for i in range(len(self.executors)) if i not in self.running]

    def start(self, planned: Planned) -> Running:
        """Pin the candidate and run it on the first free worker."""
        worker = self.free_workers[0]
        session = self.session
        number = self._next_number
        self._next_number += 1
        ref = session.exp_ref(number)
        if git.resolve(session.repo, ref) is not None:
            ref = f"{ref}-{planned.commit[:7]}"  # rows were taken out of the ledger by hand
        git.create_ref(session.repo, ref, planned.commit)
        running = Running(number, planned, worker, now())
        self.running[worker] = running
        inflight = {
            "experiment": number,
            "commit": planned.commit,
            "keep": planned.base,
            "description": planned.description,
            "started": running.started,
            "budget": session.settings.budget,
            "worker": worker,
            "group": None,
        }
        path = self._inflight_path(number)
        write_json(path, inflight, durable=False)
        job = measuring(
            session,
            number,
            planned.commit,
            inflight,
            Watch(self._interruptible, self._ticking),
            executor=self.executors[worker],
            devices=self.devices[worker],
            inflight_path=path,
        )
        ledger = session.read_ledger()
        best = session.best_value(ledger, planned.base)
        baseline = next((r.value for r in ledger.rows if r.status == verdict.KEEP), None)
        thread = threading.Thread(
            target=self._measure, args=(running, job, best, baseline), daemon=True
        )
        self._threads.append(thread)
        thread.start()
        self._show_workers()
        return running

    def _measure(
        self, running: Running, job: Measuring, best: float | None, baseline: float | None
    ) -> None:
        base = running.planned.base

        def lines() -> tuple[int, int]:
            with git.start_line_counts(job.repo, base, job.commit) as counting:
                return git.line_counts(counting)

        try:
            measured = measure(job, base, best, baseline, lines)
        except Exception as error:  # a run's failure must not take the others down
            measured = Measurement(
                verdict.Verdict(verdict.CRASH, f"could not run: {error}"),
                metrics=dict.fromkeys(job.patterns),
            )
        self.finished.put((running, measured))

    def _interruptible(self, _group: int) -> None:
        if self.stopping_now.is_set():
            raise KeyboardInterrupt  # the runner stops the run and says it was interrupted

    def _ticking(self, elapsed: float) -> None:
        self._interruptible(0)
        if self.on_tick is not None:
            self.on_tick(elapsed)

    def wait(self, timeout: float | None = None) -> tuple[Running, Measurement] | None:
        """The next run to finish, or None when none did within ``timeout``."""
        try:
            return self.finished.get(timeout=timeout) if timeout else self.finished.get_nowait()
        except queue.Empty:
            return None

    def release(self, running: Running) -> None:
        """Its worker is free again (the run is over; ``settle`` may come later)."""
        if self.running.get(running.worker) == running:
            del self.running[running.worker]

    def stop_all(self) -> None:
        """Stop every run now: each ends as interrupted, for ``settle`` to record."""
        self.stopping_now.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()
        self._threads = [t for t in self._threads if t.is_alive()]

    # ----- recording ----------------------------------------------------------------------------

    def settle(self, running: Running, measured: Measurement) -> Settled:
        """Record a finished run: its row first, then the keep ref, as the sequential step."""
        session = self.session
        planned = running.planned
        self.release(running)
        keep = session.keep_ref()
        status, reason = measured.verdict.status, measured.verdict.reason
        requeued: Planned | None = None
        description = planned.description
        if status == verdict.KEEP and planned.base != keep:
            # It beat its own base, but the keep ref moved on: measured again on top of it.
            status = verdict.DISCARD
            carried = rebase_onto(
                session.repo,
                planned.commit,
                keep,
                planned.description,
                session.meta.identity,
            )
            if carried is None:
                reason = f"beat its base {planned.base[:7]} but conflicts with keep {keep[:7]}"
            else:
                reason = f"beat its base {planned.base[:7]}; measured again on keep {keep[:7]}"
                requeued = Planned(
                    carried,
                    keep,
                    f"{planned.description} (on {keep[:7]})",
                    rebased_from=planned.commit,
                )
            description = f"{description} ({reason})"
        measured = measured._replace(
            verdict=measured.verdict._replace(status=status, reason=reason)
        )
        worker = self._worker_name(running.worker)
        record_row(
            session,
            planned.commit,
            measured,
            description,
            planned.tokens,
            planned.cost_usd,
            extra={"base": planned.base[:7], "worker": worker},
        )
        keep_after = planned.commit if status == verdict.KEEP else keep
        entry = record.start_experiment(session, running.number, status, keep_after)
        if status == verdict.KEEP:
            git.update_ref(session.repo, session.keep_ref_name, planned.commit)
            with contextlib.suppress(git.GitError):
                session.restore(planned.commit)  # the user's tree follows the keep ref
        if entry is not None:
            session.finish_record(entry)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._inflight_path(running.number))
        self._show_workers()
        experiment = self._experiment(running, measured, keep_after, description)
        return Settled(experiment, requeued)

    def _experiment(
        self, running: Running, measured: Measurement, keep_after: str, description: str
    ) -> Experiment:
        session, planned = self.session, running.planned
        crashed = measured.verdict.status == verdict.CRASH
        log = measured.log or session.files.archived_log(running.number, planned.commit)
        best = session.best_value(session.read_ledger(), planned.base)
        return Experiment(
            number=running.number,
            commit=planned.commit,
            status=measured.verdict.status,
            reason=measured.verdict.reason,
            metric=session.settings.metric,
            value=None if crashed else measured.metrics.get(session.settings.metric),
            metrics=dict(measured.metrics),
            best_before=best,
            keep_ref=keep_after,
            seconds=measured.seconds,
            description=description,
            log=os.path.relpath(log, session.repo),
            tail=runner.tail(log) if crashed and os.path.exists(log) else (),
            runs=len(measured.values),
            spread=measured.spread,
            holdout=measured.holdout,
            notes=(measured.holdout_note,) if measured.holdout_note else (),
        )

    # ----- what `status` shows -------------------------------------------------------------------

    def _worker_name(self, worker: int) -> str:
        devices = self.devices[worker]
        name = getattr(self.executors[worker], "name", "local")
        where = f"{name}{worker}"
        return f"{where}:gpu{'+'.join(devices)}" if devices else where

    def _inflight_path(self, number: int) -> str:
        return os.path.join(inflight_dir(self.session), f"{number}.json")

    def _show_workers(self) -> None:
        workers: list[dict[str, Any]] = []
        for worker in range(len(self.executors)):
            running = self.running.get(worker)
            entry: dict[str, Any] = {"worker": self._worker_name(worker), "busy": bool(running)}
            if running is not None:
                entry.update(
                    experiment=running.number,
                    commit=running.planned.commit[:7],
                    description=running.planned.description,
                    since=running.started,
                )
            workers.append(entry)
        write_json(workers_json(self.session), {"pid": os.getpid(), "workers": workers}, False)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(workers_json(self.session))
