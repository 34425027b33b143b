"""Bringing a session back to a known state: after a kill, on `reset`, and on `rewind`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import NamedTuple

from autoresearch.engine import record
from autoresearch.engine.inflight import complete_last_entry, parallel_records, recover_inflight
from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.store import git, runner, untracked
from autoresearch.store.files import now, read_json


@contextlib.contextmanager
def locked(session: Session) -> Iterator[list[str]]:
    """The session locked for one command, after finishing what a killed command left undone;
    yields what was recovered, in words."""
    with session.lock():
        yield recover(session)


def recover(session: Session) -> list[str]:
    """Finish or void every experiment whose command died mid-way, and an interrupted audit.
    Call with the lock held.

    If its ledger row was written, only the step after it (keep ref or reset) is redone; if not,
    it is recorded as a crash ("interrupted") and the tree goes back to the keep ref. A run still
    alive is killed first.
    """
    untracked.end_cut_short(session.files.untracked_seen)
    inflight = parallel_records(session)
    if inflight:
        complete_last_entry(session, inflight)
    messages = record.check_locked(session, inflight or None)
    recovered = recover_inflight(session)
    if recovered:
        # What an interrupted experiment left is now in the record, and only what the tool
        # wrote: anything else the files gained meanwhile is named before this command acts.
        record.check(session)
    return messages + recover_audit(session) + recovered


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
