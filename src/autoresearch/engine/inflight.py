"""What a parallel loop leaves on disk while it runs: a record per experiment in flight (for
recovery after a kill of the tool) and the state of each worker (for `status`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

from autoresearch.engine import record
from autoresearch.engine.measure import Measurement
from autoresearch.engine.session import Session
from autoresearch.engine.step import crash_metrics, record_row
from autoresearch.errors import UserError
from autoresearch.rules import verdict
from autoresearch.store import git, runner
from autoresearch.store.files import now, read_json


def inflight_dir(session: Session) -> str:
    return session.files.inflight_dir


def workers_json(session: Session) -> str:
    return session.files.workers_json


def worker_states(path: str) -> list[Mapping[str, Any]]:
    """Each worker of a parallel loop that is still running, from its ``workers.json``
    (``SessionFiles.workers_json``): busy (and with what) or idle."""
    try:
        state = read_json(path)
    except UserError:  # caught mid-write: no workers to show this time
        return []
    if state is None or not _alive(state.get("pid")):
        return []
    return list(state.get("workers") or [])


def _alive(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parallel_records(session: Session) -> list[Mapping[str, Any]]:
    """The in-flight records a parallel loop left, one per experiment it was running."""
    folder = inflight_dir(session)
    if not os.path.isdir(folder):
        return []
    found = (read_json(os.path.join(folder, name)) for name in sorted(os.listdir(folder)))
    return [inflight for inflight in found if inflight is not None]


def recover_parallel(session: Session) -> list[str]:
    """After a kill of a parallel loop: stop every run still alive and record each experiment
    that has no row as interrupted. Call with the lock held."""
    folder = inflight_dir(session)
    if not os.path.isdir(folder):
        return []
    messages = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        inflight = read_json(path)
        if inflight is None:
            os.unlink(path)
            continue
        number, commit = inflight["experiment"], str(inflight["commit"])
        if runner.kill_recorded(inflight):
            messages.append(f"killed the run of experiment {number} still alive")
        row = session.read_ledger().row_for(commit[:7])
        base = str(inflight.get("keep") or "")
        if row is None:
            interrupted = Measurement(
                verdict.Verdict(verdict.CRASH, "interrupted"),
                metrics=crash_metrics(session),
                seconds=now() - float(inflight.get("started") or now()),
                interrupted=True,
            )
            extra = {"base": base[:7], "worker": str(inflight.get("worker", ""))}
            record_row(session, commit, interrupted, str(inflight["description"]), extra=extra)
            record.note_experiment(session, number, verdict.CRASH, session.keep_ref())
            messages.append(
                f"experiment {number} ({commit[:7]}) was interrupted: recorded as crash"
            )
        elif row.status == verdict.KEEP and session.keep_ref() == base:
            # Killed between its row and the keep ref's move: the move is all that is left.
            git.update_ref(session.repo, session.keep_ref_name, commit)
            session.restore(commit)
            record.note_experiment(session, number, verdict.KEEP, commit)
            messages.append(f"experiment {number} ({commit[:7]}) was kept: keep ref moved to it")
        else:  # killed between its row (and the keep ref's move) and its entry in the record
            record.note_experiment(session, number, row.status, session.keep_ref())
        os.unlink(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(workers_json(session))
    return messages
