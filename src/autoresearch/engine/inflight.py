"""What an experiment in flight leaves on disk, and finishing it after a kill of the tool.

Every driver writes the same in-flight file (``step.begin``): the sequential step one for the
session, the parallel loop one per experiment it runs, beside the state of each worker (for
`status`). After a kill, ``recover_inflight`` finishes each the same way: a row on disk means
only the step after it is redone; no row means the experiment is recorded as interrupted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

from autoresearch.engine import record
from autoresearch.engine.measure import Measurement
from autoresearch.engine.session import Session
from autoresearch.engine.step import (
    Attempt,
    Begun,
    finish,
    interrupted_measurement,
    keep_now,
    settle,
)
from autoresearch.errors import UserError
from autoresearch.rules import verdict
from autoresearch.store import guard, runner
from autoresearch.store.files import now, read_json


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


def inflight_files(session: Session) -> list[tuple[str, Mapping[str, Any] | None]]:
    """Every in-flight file on disk, with what it holds (None: empty or gone)."""
    paths = [session.files.inflight_json] if os.path.exists(session.files.inflight_json) else []
    folder = session.files.inflight_dir
    if os.path.isdir(folder):
        paths += [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
    return [(path, read_json(path)) for path in paths]


def parallel_records(session: Session) -> list[Mapping[str, Any]]:
    """What the in-flight files hold, one per experiment under way or interrupted."""
    return [inflight for _, inflight in inflight_files(session) if inflight is not None]


def recover_inflight(session: Session) -> list[str]:
    """After a kill of the tool: stop every run still alive and finish each experiment it
    left in flight. Call with the lock held."""
    messages = []
    for path, inflight in inflight_files(session):
        if inflight is None:
            os.unlink(path)
            continue
        messages += _recover_one(session, path, inflight)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(session.files.workers_json)
    return messages


def _recover_one(session: Session, path: str, inflight: Mapping[str, Any]) -> list[str]:
    number, commit = int(inflight["experiment"]), str(inflight["commit"])
    messages = []
    if runner.kill_recorded(inflight):
        messages.append(f"killed the run of experiment {number} still alive")
    guard.restore_modes(session.repo, inflight.get("modes") or {})
    worker = inflight.get("worker")
    begun = Begun(
        number,
        commit,
        str(inflight.get("keep") or session.keep_ref()),
        Attempt(str(inflight["description"])),
        None,
        path,
        inflight,
        None if worker in (None, "") else str(worker),
    )
    row = session.read_ledger().row_for(commit[:7])
    named = f"experiment {number} ({commit[:7]})"
    if row is None:
        started = float(inflight.get("started") or now())
        experiment = finish(session, begun, interrupted_measurement(session, started), True)
        tree = "".join(f", {note}" for note in experiment.notes)
        return [*messages, f"{named} was interrupted: recorded as crash{tree}"]
    # Killed after its row: the keep ref's move (or the reset) and the record's entry are left.
    judged = Measurement(verdict.Verdict(row.status, "recorded"))
    notes = settle(session, begun, judged, recovering=True)
    keep_after = commit if row.status == verdict.KEEP else keep_now(session, begun)
    record.note_experiment(session, number, row.status, keep_after)
    os.unlink(path)
    done = "finished what the interrupted command left undone"
    if row.status == verdict.KEEP:
        done += ": the keep ref moved to it"
    kept = "".join(f"; {note}" for note in notes)
    return [*messages, f"{named} was {row.status}; {done}{kept}"]
