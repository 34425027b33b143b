"""The user's tree between the runs of one experiment: back to exactly the candidate before each
of its further runs, and at the keep ref for the keep ref's runs between them, so that every run
measures the commit it is recorded as (a run in place can write the files of its own checkout).

The keep ref runs again between a candidate's repeats, so that the candidate is compared with
runs of the keep ref made minutes apart from its own, on the same machine in the same state:
back-to-back repeats of one commit agree better than runs minutes apart (other jobs, clocks,
caches drift), and a keep ref measured long ago carries that drift into every comparison.

Edits found in the tree before a run (made during the last one, by the run or by the user) are
pinned under a ref before the tree is reset: nothing is lost, and nothing a run wrote is measured
as the commit. The tree is only brought to the keep ref when nothing is in the way (an untracked
file where the keep ref has a file the candidate removed is left alone, and the keep ref is not
run then). A kill during the keep ref's run leaves the tree at the keep ref, which is where
recovery of an interrupted experiment brings it anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from autoresearch.store import git


def candidate_in_tree(repo: str, candidate: str, pin_edits: Callable[[str], str]) -> str | None:
    """The user's tree exactly at ``candidate`` (HEAD there), its edits pinned first; the ref
    that keeps them, or None when there were none."""
    if git.head(repo) != candidate or not git.status(repo).changed:
        return None
    return _pinned_and_reset(repo, candidate, pin_edits)


@contextlib.contextmanager
def keep_ref_in_tree(
    repo: str, keep: str, candidate: str, pin_edits: Callable[[str], str]
) -> Iterator[bool]:
    """The user's tree at ``keep`` while the block runs, then at ``candidate`` again (what
    changed meanwhile pinned first); yields False, changing nothing, when the tree is not
    exactly ``candidate`` now or a file of the keep ref would overwrite an untracked one."""
    if git.head(repo) != candidate or not _switchable(repo, keep, candidate):
        yield False
        return
    git.reset_hard(repo, keep)
    try:
        yield True
    finally:
        _pinned_and_reset(repo, candidate, pin_edits)


def _pinned_and_reset(repo: str, commit: str, pin_edits: Callable[[str], str]) -> str | None:
    edits = git.snapshot_uncommitted(repo)
    ref = pin_edits(edits) if edits else None
    git.reset_hard(repo, commit)
    return ref


def _switchable(repo: str, keep: str, candidate: str) -> bool:
    """Whether bringing the tree to ``keep`` and back loses nothing: no uncommitted edit, and no
    untracked file that a file of the keep ref would overwrite."""
    tree = git.status(repo)
    if tree.changed:
        return False
    if not tree.untracked:
        return True
    untracked = set(tree.untracked)
    folders = tuple(path for path in untracked if path.endswith("/"))
    return not any(
        path in untracked or path.startswith(folders)
        for path in git.changed_paths(repo, candidate, keep)
    )
