"""What an experiment in flight leaves on disk, and finishing it after a kill of the tool.

Every driver writes the same in-flight file (``step.begin``): the sequential step one for the
session, the parallel loop one per experiment it runs, beside the state of each worker (for
`status`), each naming the entry with which the record began its experiment. After a kill,
``recover_inflight`` finishes each the record vouches for the same way, as the record has it: an
entry of its verdict means only the steps after it are redone; none means the experiment is
recorded as interrupted. A file the record does not vouch for is refused before (``record.check``).
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
    settle,
)
from autoresearch.errors import UserError
from autoresearch.rules import verdict
from autoresearch.store import git, guard, journal, runner
from autoresearch.store.files import append_lines, now, read_json


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


def complete_last_entry(session: Session, records: list[Mapping[str, Any]]) -> None:
    """After a kill between an experiment's entry and its row or the keep ref's move: the ledger
    gets the row the record holds, the keep ref the record's keep, when the record's last entry
    is the experiment of an in-flight file it vouches for. Before the record is checked."""
    known, _ = record.vouched(session, records)
    tip, keep = session.read_record()
    if tip is None or not record.last_entry_in_flight(tip, known):
        return
    row = record.due_row(journal.read_bytes(session.files.ledger) or b"", tip, known)
    if row is not None:
        append_lines(session.files.ledger, row.splitlines())
    if keep != tip.keep and tip.entry.get("status") == verdict.KEEP:
        git.update_ref(session.repo, session.keep_ref_name, tip.keep)


def recover_inflight(session: Session) -> list[str]:
    """After a kill of the tool: stop every run still alive and finish each experiment it
    left in flight, as the record began it. Call with the lock held, the record checked (so
    that every in-flight file left is one the record vouches for)."""
    messages = []
    found = inflight_files(session)
    known, _ = record.vouched(session, [inflight for _, inflight in found if inflight])
    # Runs of any of them, written before the kill, are the tool's own.
    for number, begun in known.items():
        session.running[number] = (str(begun["commit"]), str(begun["base"]))
    for path, inflight in found:
        begun = known.get(int(inflight["experiment"])) if inflight else None
        if inflight is None or begun is None:
            os.unlink(path)
            continue
        messages += _recover_one(session, path, inflight, begun)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(session.files.workers_json)
    return messages


def _recover_one(
    session: Session, path: str, inflight: Mapping[str, Any], begun_entry: Mapping[str, Any]
) -> list[str]:
    """Finish one experiment: what it was comes from the record's begin entry, what its run
    left (its process, the protected files' modes) from the in-flight file."""
    number, commit = int(begun_entry["experiment"]), str(begun_entry["commit"])
    messages = []
    if runner.kill_recorded(inflight):
        messages.append(f"killed the run of experiment {number} still alive")
    modes = inflight.get("modes") or {}
    guard.restore_modes(
        session.repo, {p: m for p, m in modes.items() if p in session.meta.protected}
    )
    worker = begun_entry.get("worker")
    begun = Begun(
        number,
        commit,
        str(begun_entry["base"]),
        Attempt(str(begun_entry["description"])),
        None,
        path,
        inflight,
        None if worker is None else str(worker),
    )
    named = f"experiment {number} ({commit[:7]})"
    if not record.has_entry(session, number):
        started = float(begun_entry.get("started") or now())
        experiment = finish(session, begun, interrupted_measurement(session, started), True)
        tree = "".join(f", {note}" for note in experiment.notes)
        return [*messages, f"{named} was interrupted: recorded as crash{tree}"]
    # Killed after its entry (its row and keep ref are back already): the tree is left.
    status = str(session.record.entry["status"]) if session.record else verdict.CRASH
    notes = settle(session, begun, Measurement(verdict.Verdict(status, "recorded")), True)
    session.running.pop(number, None)
    os.unlink(path)
    done = "finished what the interrupted command left undone"
    if status == verdict.KEEP:
        done += ": the keep ref moved to it"
    kept = "".join(f"; {note}" for note in notes)
    return [*messages, f"{named} was {status}; {done}{kept}"]
