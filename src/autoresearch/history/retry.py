"""Bringing an experiment's change back as the candidate, to be measured again.

A discard under noise may have been a real gain that one unlucky run hid. Its commit stays
pinned at ``exp/N``; its change is the diff against the keep ref it was built on (its base),
which is applied to the working tree at the current keep ref, uncommitted, so that the next
`try` measures it as a new experiment like any other. Nothing is changed unless all of it
applies within scope.
"""

from __future__ import annotations

from typing import NamedTuple

from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.history.lineage import resolve_kept, start_commit
from autoresearch.rules import verdict
from autoresearch.store import git
from autoresearch.store.ledger import Ledger, Row


class Retried(NamedTuple):
    """Experiment ``number``'s change, now in the working tree on top of ``keep``."""

    number: int
    row: Row
    commit: str
    base: str
    keep: str
    paths: tuple[str, ...]


def _experiment(session: Session, ledger: Ledger, number: int) -> tuple[Row, str]:
    last = len(ledger.rows) - 1
    if not 0 <= number <= last:
        raise UserError(f"no experiment {number}: the ledger has experiments 0 to {last}")
    if number == 0:
        raise UserError("experiment 0 is the baseline: it has no change to bring back")
    commit = git.resolve(session.repo, session.exp_ref(number))
    if commit is None:  # an imported row: its commit was never pinned here
        raise UserError(f"experiment {number} has no commit pinned at {session.exp_ref(number)}")
    row = ledger.rows[number]
    return (row if commit.startswith(row.commit) else ledger.row_for(commit) or row), commit


def _base(session: Session, ledger: Ledger, row: Row, commit: str) -> str:
    """The keep ref the experiment was built on: the nearest kept commit recorded before it
    that is its ancestor (the session's start when its baseline crashed)."""
    kept = resolve_kept(session, ledger)
    for line in sorted((line for line in kept if line < row.line), reverse=True):
        if kept[line] != commit and git.is_ancestor(session.repo, kept[line], commit):
            return kept[line]
    start = start_commit(session)
    if start != commit and git.is_ancestor(session.repo, start, commit):
        return start
    raise UserError(f"experiment {row.commit} is built on no kept commit of this session")


def _refuse_outside_scope(session: Session, number: int, paths: list[str]) -> None:
    scope = session.scope
    refused = sorted(path for path in paths if not scope.allows(path))
    if refused:
        listed = ", ".join(f"{path} ({scope.explain(path)})" for path in refused)
        raise UserError(f"refused: experiment {number} changes {listed}")


def retry(session: Session, number: int, workdir: str | None = None) -> Retried:
    """Experiment ``number``'s change applied to the working tree at the keep ref, or one line
    saying why not, with nothing changed. ``workdir``: a checkout of the keep ref of its own
    (a parallel loop's agent's) instead of the session's tree."""
    tree_at = session.repo if workdir is None else workdir
    ledger = session.read_ledger()
    row, commit = _experiment(session, ledger, number)
    keep = session.keep_ref()
    if row.status == verdict.KEEP and git.is_ancestor(session.repo, commit, keep):
        raise UserError(f"experiment {number} was kept: the keep ref {keep[:7]} holds it already")
    if git.head(tree_at) != keep:
        raise UserError(
            f"the tree is not at the keep ref {keep[:7]}: `autoresearch reset` returns to it"
        )
    tree = git.status(tree_at)
    edits = [*tree.changed, *(path for path in tree.untracked if session.scope.allows(path))]
    if edits:
        shown = ", ".join(edits[:3]) + (" ..." if len(edits) > 3 else "")
        raise UserError(f"the tree has changes ({shown}): try them, or `autoresearch reset`")
    base = _base(session, ledger, row, commit)
    paths = git.changed_paths(session.repo, base, commit)
    if not paths:
        raise UserError(f"experiment {number} changed nothing against its base {base[:7]}")
    _refuse_outside_scope(session, number, paths)
    problem = git.apply_to_tree(tree_at, git.change(session.repo, base, commit))
    if problem is not None:
        raise UserError(
            f"experiment {number}'s change no longer applies on the keep ref {keep[:7]}: {problem}"
        )
    return Retried(number, row, commit, base, keep, tuple(paths))
