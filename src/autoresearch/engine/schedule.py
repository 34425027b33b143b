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

from autoresearch.engine import candidate
from autoresearch.engine.experiment import Experiment
from autoresearch.engine.judging import measure_and_judge
from autoresearch.engine.measure import MeasureJob, Measurement, Watch
from autoresearch.engine.session import Session
from autoresearch.engine.step import Attempt, Begun, Planned, begin, finish, measure_job, pin
from autoresearch.rules import verdict
from autoresearch.store import git
from autoresearch.store.executors import Executor
from autoresearch.store.files import write_json
from autoresearch.store.ledger import sanitize
from autoresearch.store.rebase import rebase_onto


class Running(NamedTuple):
    begun: Begun
    planned: Planned
    worker: int

    @property
    def number(self) -> int:
        return self.begun.number


class Settled(NamedTuple):
    """What one finished run came to: the experiment recorded, and the re-measure it asked for."""

    experiment: Experiment
    requeued: Planned | None = None


class Scheduler:
    """Runs candidates on ``executors`` (one per worker, devices given alongside), at most one
    run per worker; ``settle`` records what finished. Each experiment is begun and finished by
    the same two halves as the sequential step; what is the scheduler's own is the choice of a
    worker, and carrying a winner onto a keep ref that moved."""

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
        os.makedirs(session.files.inflight_dir, exist_ok=True)
        self._show_workers()

    def commit_candidate(self, workspace: str, base: str, attempt: Attempt) -> Planned:
        """Commit what the agent changed in ``workspace`` (a worktree at ``base``), refused
        like a `try` when it is out of scope or empty."""
        attempt = attempt._replace(description=sanitize(attempt.description) or "(no description)")
        commit = candidate.commit_workspace(self.session, workspace, base, attempt.description)
        return Planned(commit, base, attempt)

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
        pin(session, number, planned.commit)
        best = session.best_value(session.read_ledger(), planned.base)
        begun = begin(session, number, planned, best, self._worker_name(worker))
        running = Running(begun, planned, worker)
        self.running[worker] = running
        job = measure_job(
            session,
            begun,
            Watch(self._interruptible, self._ticking),
            executor=self.executors[worker],
            devices=self.devices[worker],
        )
        baseline = next(
            (r.value for r in session.read_ledger().rows if r.status == verdict.KEEP), None
        )
        thread = threading.Thread(target=self._measure, args=(running, job, baseline), daemon=True)
        self._threads.append(thread)
        thread.start()
        self._show_workers()
        return running

    def _measure(self, running: Running, job: MeasureJob, baseline: float | None) -> None:
        def lines() -> tuple[int, int]:
            with git.start_line_counts(job.repo, job.base, job.commit) as counting:
                return git.line_counts(counting)

        try:
            measured = measure_and_judge(job, baseline, lines)
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
        """Record a finished run through the step's own ``finish``; a candidate that beat its
        base after the keep ref moved on is a discard here, carried onto the new keep ref to be
        measured again."""
        session, planned, begun = self.session, running.planned, running.begun
        self.release(running)
        keep = session.keep_ref()
        requeued: Planned | None = None
        if measured.verdict.status == verdict.KEEP and planned.base != keep:
            requeued, reason = self._carry(planned, keep)
            measured = measured._replace(
                verdict=measured.verdict._replace(status=verdict.DISCARD, reason=reason)
            )
            attempt = begun.attempt._replace(description=f"{planned.description} ({reason})")
            begun = begun._replace(attempt=attempt)
        experiment = finish(session, begun, measured)
        self._show_workers()
        return Settled(experiment, requeued)

    def _carry(self, planned: Planned, keep: str) -> tuple[Planned | None, str]:
        """``planned`` carried onto ``keep`` (None on a conflict), and the reason in words."""
        session = self.session
        carried = rebase_onto(
            session.repo, planned.commit, keep, planned.description, session.meta.identity
        )
        if carried is None:
            return None, f"beat its base {planned.base[:7]} but conflicts with keep {keep[:7]}"
        attempt = Attempt(f"{planned.description} (on {keep[:7]})")
        requeued = Planned(carried, keep, attempt, rebased_from=planned.commit)
        return requeued, f"beat its base {planned.base[:7]}; measured again on keep {keep[:7]}"

    # ----- what `status` shows -------------------------------------------------------------------

    def _worker_name(self, worker: int) -> str:
        devices = self.devices[worker]
        name = getattr(self.executors[worker], "name", "local")
        where = f"{name}{worker}"
        return f"{where}:gpu{'+'.join(devices)}" if devices else where

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
                    since=running.begun.inflight["started"],
                )
            workers.append(entry)
        write_json(self.session.files.workers_json, {"pid": os.getpid(), "workers": workers}, False)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.session.files.workers_json)
