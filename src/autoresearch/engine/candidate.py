"""What an experiment is: the files that differ from the keep ref, checked against the scope.

A candidate is the agent's uncommitted changes plus any commits it made on top of the keep ref.
Untracked files count only when they are in scope; anything else the user has lying around is
never touched.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.rules import pointers
from autoresearch.rules.scope import Scope, refuse_forbidden
from autoresearch.store import git, tree_entries
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
    with tree_entries.start_index(repo) as listing:
        tree = git.status(repo, status)
        entries = tree_entries.committed_entries(repo, keep, head) if head != keep else []
        committed = tuple(entry.path for entry in entries)
        untracked_in_scope = tuple(p for p in tree.untracked if scope.allows(p))
        refuse_forbidden([*tree.changed, *committed], scope)
        found = Candidate(tree.changed + untracked_in_scope, committed, new=untracked_in_scope)
        refuse_pointers(repo, keep, found, entries, tree_entries.index(listing), scope)
    return found


def refuse_pointers(
    repo: str,
    keep: str,
    found: Candidate,
    committed: list[tree_entries.Entry],
    index: tree_entries.Index,
    scope: Scope,
) -> None:
    """Refuse a candidate that points the run at what its commit does not hold (see
    ``rules.pointers``), as a change outside scope is refused."""
    entries = {entry.path: entry for entry in committed}
    entries.update((path, tree_entries.worktree_entry(repo, path)) for path in found.uncommitted)
    read = _pointers(repo, keep, entries, found, index)
    held: frozenset[str] = frozenset()
    if read.links:
        absent = {path for path, entry in entries.items() if entry.kind == "absent"}
        files = (index.tracked | set(found.new)) - absent
        held = frozenset(files).union(*(_folders_above(path) for path in files))
    pointers.refuse(pointers.problems(read, entries, scope, held))


def _pointers(
    repo: str,
    keep: str,
    entries: dict[str, tree_entries.Entry],
    found: Candidate,
    index: tree_entries.Index,
) -> pointers.Pointers:
    """What the candidate's paths are besides files, read from git and the disk."""
    drivers = tuple(
        (path, line)
        for path, entry in entries.items()
        if pointers.is_attributes_file(path)
        for line in pointers.added_drivers(
            tree_entries.blob_text(repo, f"{keep}:{path}"), tree_entries.text(repo, entry)
        )
    )
    return pointers.Pointers(
        links=tuple(
            pointers.Link(path, tree_entries.link_target(repo, entry))
            for path, entry in entries.items()
            if entry.kind == "symlink"
        ),
        gitlinks=tuple(path for path, entry in entries.items() if entry.kind == "gitlink"),
        under_links=tuple(
            (path, folder)
            for path in found.uncommitted
            if (folder := tree_entries.linked_folder(repo, path)) is not None
        ),
        drivers=drivers,
        # What the run sees: a flag on a file the tree holds. A sparse checkout's skip-worktree
        # files are not on disk, and stay allowed.
        flagged={
            path: flag
            for path, flag in index.flagged.items()
            if os.path.lexists(os.path.join(repo, path))
        },
    )


def _folders_above(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: end + 1]) for end in range(len(parts))]


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
