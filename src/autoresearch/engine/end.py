"""Leaving a session: back to where it started, with everything it recorded kept aside.

Nothing is deleted. The session branch, the keep ref and every experiment's ref stay; the
ledger is parked in the session's folder, where checking the session branch out again finds
it. The tree is clean, so the next `autoresearch init` starts from the commit this one did.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.errors import UserError
from autoresearch.store import git
from autoresearch.store.files import active_tag


class Ended(NamedTuple):
    checked_out: str  # the branch (or the commit, detached) HEAD is on now
    keep: str
    parked_ledger: str | None  # where the ledger waits; None when there was none
    abandoned_ref: str | None  # uncommitted edits or a crashed candidate, kept here
    untracked_left: tuple[str, ...]


def end_session(session: Session) -> Ended:
    """Leave the checked-out session. Hold the session's lock."""
    repo = session.repo
    branch = BRANCH_PREFIX + session.tag
    if git.current_branch(repo) not in (branch, None):
        raise UserError(f"session {session.tag} is not checked out; nothing to end")
    keep = session.keep_ref()
    abandoned = session.restore(keep)
    untracked = tuple(p for p in git.status(repo).untracked if session.scope.allows(p))
    start = session.meta.start_branch
    if start is not None and git.branch_exists(repo, start) and start != branch:
        git.checkout(repo, start)
        checked_out = start
    else:  # started detached, or its branch is gone: the commit it started from
        git.checkout_detached(repo, session.meta.start_commit)
        checked_out = session.meta.start_commit[:7]
    parked = None
    if active_tag(repo) == session.tag:
        if os.path.exists(session.files.ledger):
            os.makedirs(session.files.dir, exist_ok=True)
            os.replace(session.files.ledger, session.files.parked_ledger)
            parked = session.files.parked_ledger
        os.unlink(session.files.active)  # no session is active: results.tsv is free
    elif os.path.exists(session.files.parked_ledger):
        parked = session.files.parked_ledger
    return Ended(checked_out, keep, parked, abandoned, untracked)
