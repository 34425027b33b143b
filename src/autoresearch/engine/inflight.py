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
from autoresearch.store import guard, journal, runner
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
    found = inflight_files(session)
    # Runs of any of them, written before the kill, are the tool's own.
    for _, inflight in found:
        if inflight is not None:
            session.running[int(inflight["experiment"])] = str(inflight["commit"])
    for path, inflight in found:
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
    in_tree = worker in (None, "")
    # A base read from the in-flight file could have been written by anyone: the record's keep
    # ref is the base of a candidate in the user's tree.
    base = session.record.keep if in_tree and session.record else inflight.get("keep")
    begun = Begun(
        number,
        commit,
        str(base or session.keep_ref()),
        Attempt(str(inflight["description"])),
        None,
        path,
        inflight,
        None if in_tree else str(worker),
    )
    named = f"experiment {number} ({commit[:7]})"
    status = _status_written(session, number, inflight)
    if status is None:
        started = float(inflight.get("started") or now())
        experiment = finish(session, begun, interrupted_measurement(session, started), True)
        tree = "".join(f", {note}" for note in experiment.notes)
        return [*messages, f"{named} was interrupted: recorded as crash{tree}"]
    # Killed after its row: the keep ref's move (or the reset) and the record's entry are left.
    judged = Measurement(verdict.Verdict(status, "recorded"))
    notes = settle(session, begun, judged, recovering=True)
    keep_after = commit if status == verdict.KEEP else keep_now(session, begun)
    values = inflight.get("values")
    runs = {**session.own_runs(), (number, commit): None if values is None else tuple(values)}
    written = journal.Written((str(inflight.get("row", "")),), runs)
    record.note_experiment(session, record.Outcome(number, status, keep_after, written))
    session.running.pop(number, None)
    os.unlink(path)
    done = "finished what the interrupted command left undone"
    if status == verdict.KEEP:
        done += ": the keep ref moved to it"
    kept = "".join(f"; {note}" for note in notes)
    return [*messages, f"{named} was {status}; {done}{kept}"]


def _status_written(session: Session, number: int, inflight: Mapping[str, Any]) -> str | None:
    """The verdict of the row the tool wrote for the experiment before it was killed; None when
    it wrote none. A row that the in-flight file does not name, or that the ledger does not
    hold after what the record has, is not the tool's."""
    if record.has_entry(session, number):
        return str(session.record.entry["status"]) if session.record else None
    row, status = inflight.get("row"), inflight.get("status")
    if (
        not isinstance(row, str)
        or status not in (verdict.KEEP, verdict.DISCARD, verdict.CRASH)
        or session.record is None
    ):
        return None
    ledger = journal.read_bytes(session.files.ledger) or b""
    appended = ledger[session.record.ledger.size :].decode("utf-8", "replace")
    return str(status) if row in appended.splitlines() else None
