"""Bringing a session back to a known state: after a kill, on `reset`, and on `rewind`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import NamedTuple

from autoresearch.engine import record
from autoresearch.engine.inflight import parallel_records, recover_parallel
from autoresearch.engine.measure import Measurement
from autoresearch.engine.session import Session
from autoresearch.engine.step import crash_metrics, record_row, settle
from autoresearch.errors import UserError
from autoresearch.rules import verdict
from autoresearch.store import git, guard, runner
from autoresearch.store.files import now, read_json


@contextlib.contextmanager
def locked(session: Session) -> Iterator[list[str]]:
    """The session locked for one command, after finishing what a killed command left undone;
    yields what was recovered, in words."""
    with session.lock():
        yield recover(session)


def recover(session: Session) -> list[str]:
    """Finish or void an experiment whose command died mid-way. Call with the lock held.

    If its ledger row was written, only the step after it (keep ref or reset) is redone; if not,
    it is recorded as a crash ("interrupted") and the tree goes back to the keep ref. A run still
    alive is killed first.
    """
    inflight = read_json(session.files.inflight_json)
    in_flight = [inflight] if inflight is not None else []
    in_flight += parallel_records(session)
    messages = record.check_locked(session, in_flight or None)
    messages += recover_audit(session) + recover_parallel(session)
    if inflight is None:
        return messages
    if runner.kill_recorded(inflight):
        messages.append(f"killed the run of experiment {inflight['experiment']} still alive")
    guard.restore_modes(session.repo, inflight.get("modes") or {})
    commit = str(inflight["commit"])
    keep = str(inflight.get("keep") or session.keep_ref())
    ledger = session.read_ledger()
    last = ledger.rows[-1] if ledger.rows else None
    recorded = (
        last is not None
        and commit.startswith(last.commit)
        and ledger.data_lines > inflight["experiment"]
    )
    if recorded:
        assert last is not None
        keep_after, pinned = settle(session, last.status, commit, keep, recovering=True)
        record.note_experiment(session, int(inflight["experiment"]), last.status, keep_after)
        kept = f"; uncommitted edits kept at {pinned}" if pinned else ""
        messages.append(
            f"experiment {inflight['experiment']} ({commit[:7]}) was {last.status}; "
            f"finished what the interrupted command left undone{kept}"
        )
    else:
        seconds = now() - float(inflight.get("started") or now())
        interrupted = Measurement(
            verdict.Verdict(verdict.CRASH, "interrupted"),
            metrics=crash_metrics(session),
            seconds=seconds,
            interrupted=True,
        )
        record_row(session, commit, interrupted, str(inflight["description"]))
        back = _back_to_keep(session, keep, commit)
        record.note_experiment(session, int(inflight["experiment"]), verdict.CRASH, keep)
        messages.append(
            f"experiment {inflight['experiment']} ({commit[:7]}) was interrupted: recorded as "
            f"crash, {back}"
        )
    os.unlink(session.files.inflight_json)
    return messages


def _back_to_keep(session: Session, keep: str, interrupted: str) -> str:
    """Return to the keep ref after an interrupted experiment; in words, what became of the tree.

    Edits made since the kill, on top of the interrupted candidate, are the user's next try (a
    fix of it, most likely): they stay in the tree, with the candidate's own changes, as
    uncommitted changes on the keep ref. Without such edits the tree is reset to the keep ref.
    """
    if git.head(session.repo) == interrupted and git.status(session.repo).changed:
        git.reset_keeping_tree(session.repo, keep)
        return (
            f"HEAD back at the keep ref {keep[:7]}; your edits since, on top of its changes, "
            "are left uncommitted for the next try"
        )
    ref = session.restore(keep)
    kept = f" (uncommitted edits kept at {ref})" if ref else ""
    return f"tree restored to the keep ref {keep[:7]}{kept}"


def recover_audit(session: Session) -> list[str]:
    """After a kill mid-audit: stop its run and put the session branch back."""
    state = read_json(session.files.audit_marker)
    if state is None:
        return []
    runner.kill_recorded(state)
    with contextlib.suppress(git.GitError):
        git.reset_hard(session.repo, "HEAD")
    git.checkout(session.repo, str(state.get("branch") or f"autoresearch/{session.tag}"))
    os.unlink(session.files.audit_marker)
    return ["an audit was interrupted; the session branch is checked out again"]


class ResetResult(NamedTuple):
    keep: str
    abandoned_ref: str | None
    untracked_left: tuple[str, ...]


def reset(session: Session) -> ResetResult:
    """Abandon a crashed candidate or stray edits: back to the keep ref, work kept under a ref."""
    keep = session.keep_ref()
    ref = session.restore(keep)
    untracked = tuple(p for p in git.status(session.repo).untracked if session.scope.allows(p))
    return ResetResult(keep, ref, untracked)


def rewind(session: Session, revision: str) -> tuple[str, float, str | None]:
    """Move the keep ref back to an earlier kept commit of the ledger; nothing else is allowed."""
    commit = git.resolve(session.repo, revision)
    if commit is None:
        raise UserError(f"{revision!r} is not a commit")
    ledger = session.read_ledger()
    kept = ledger.kept_row(commit)
    if kept is None:
        raise UserError(f"{revision} ({commit[:7]}) is not a kept commit of this session's ledger")
    previous = session.keep_ref()
    ref = session.restore(previous)
    git.update_ref(session.repo, session.keep_ref_name, commit)
    git.reset_hard(session.repo, commit)
    rewind_record = {
        "from": previous,
        "to": commit,
        "at": now(),
        "experiments_before": ledger.data_lines,
    }
    session.save(session.meta._replace(rewinds=(*session.meta.rewinds, rewind_record)), "rewind")
    return commit, kept.value, ref
