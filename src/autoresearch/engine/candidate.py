"""What an experiment is: the files that differ from the keep ref, checked against the scope.

A candidate is the agent's uncommitted changes plus any commits it made on top of the keep ref.
Untracked files count only when they are in scope; anything else the user has lying around is
never touched.
"""

from __future__ import annotations

from typing import NamedTuple

from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.rules.scope import Scope, refuse_forbidden
from autoresearch.store import git
from autoresearch.store.ledger import Ledger


class Candidate(NamedTuple):
    """The paths to commit (uncommitted, in scope; ``new`` are the untracked ones among them)
    and the paths changed by commits HEAD already carries."""

    uncommitted: tuple[str, ...]
    committed: tuple[str, ...]
    new: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.uncommitted and not self.committed


def collect(
    repo: str, keep: str, head: str, scope: Scope, status: git.Pending | None = None
) -> Candidate:
    """Everything that differs from the keep ref; refuses changes that may not be measured.

    ``status`` is the tree's status begun earlier with ``git.start_status``.
    """
    if head != keep and not git.is_ancestor(repo, keep, head):
        raise UserError(
            f"HEAD ({head[:7]}) is not on top of the keep ref ({keep[:7]}); "
            "`autoresearch reset` returns to it"
        )
    tree = git.status(repo, status)
    committed = tuple(git.changed_files(repo, keep, head)) if head != keep else ()
    untracked_in_scope = tuple(p for p in tree.untracked if scope.allows(p))
    refuse_forbidden([*tree.changed, *committed], scope)
    return Candidate(tree.changed + untracked_in_scope, committed, new=untracked_in_scope)


class Found(NamedTuple):
    """A candidate ready to commit, and what it will be measured against."""

    number: int  # its ledger row, and its exp/N pin
    exp_ref: str
    stale_pin: str | None  # the commit exp/N holds already (a row taken out by hand, a kill)
    keep: str
    ledger: Ledger
    best: float | None  # the keep ref's metric; None while nothing has been measured
    candidate: Candidate
    commit: str | None  # already committed (HEAD); None: the uncommitted edits are the candidate


def find(session: Session) -> Found:
    """What differs from the keep ref, refused when out of scope or when there is nothing new.

    git runs side by side where one step does not need another's answer: each call costs a
    process start, and a try is mostly such starts.
    """
    with git.start_status(session.repo) as status:
        ledger = session.read_ledger()
        number = ledger.data_lines
        exp_ref = session.exp_ref(number)
        found = git.resolve_commits(session.repo, [session.keep_ref_name, "HEAD", exp_ref])
        keep = found.get(session.keep_ref_name) or session.keep_ref()  # says what is wrong
        head = found.get("HEAD") or keep
        candidate = collect(session.repo, keep, head, session.scope, status)
    best = session.best_value(ledger, keep)
    commit: str | None
    if candidate.uncommitted:
        commit = None
    elif candidate.committed and ledger.row_for(head[:7]) is None:
        commit = head
    elif head == keep and best is None and ledger.row_for(head[:7]) is None:
        commit = head  # the starting point was never measured: this is the baseline
    else:
        tried = ledger.row_for(head[:7])
        if tried is not None and head != keep:
            raise UserError(
                f"nothing new to try: {head[:7]} was already tried ({tried.status}); "
                "edit files, or `autoresearch reset`"
            )
        raise UserError(f"nothing to try: no change from the keep ref {keep[:7]}")
    return Found(number, exp_ref, found.get(exp_ref), keep, ledger, best, candidate, commit)


def commit(session: Session, found: Found, description: str) -> str | None:
    """Commit the candidate's uncommitted edits and free its pin's name; returns the commit
    (None: HEAD, just made, read later while it is pinned)."""
    if found.candidate.uncommitted:
        paths, new_files = list(found.candidate.uncommitted), bool(found.candidate.new)
        git.commit_worktree(session.repo, paths, description, session.meta.identity, new_files)
    free_pin(session, found.exp_ref, found.stale_pin)
    return found.commit


def free_pin(session: Session, exp_ref: str, stale: str | None) -> None:
    """exp/N always names row N's commit. The one found there already (``stale``: its row was
    taken out of the ledger by hand, or the tool was killed before recording it) stays pinned
    beside, under exp/N-<its hash>."""
    if stale is not None:
        git.update_ref(session.repo, f"{exp_ref}-{stale[:7]}", stale)
        git.delete_ref(session.repo, exp_ref, stale)


def commit_workspace(session: Session, workspace: str, base: str, description: str) -> str:
    """Commit what an agent changed in ``workspace`` (a checkout of ``base`` of its own),
    refused like a `try` when it is out of scope or empty; returns the commit."""
    head = git.head_commit(workspace)
    found = collect(workspace, base, head, session.scope)
    if found.empty:
        raise UserError("the agent made no change")
    if found.uncommitted:
        paths, new_files = list(found.uncommitted), bool(found.new)
        git.commit_worktree(workspace, paths, description, session.meta.identity, new_files)
        head = git.head_commit(workspace)
    return head
