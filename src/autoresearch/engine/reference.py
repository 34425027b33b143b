"""The keep ref run again between a candidate's repeats, so that the candidate is compared with
runs of the keep ref made minutes apart from its own, on the same machine in the same state.

Back-to-back repeats of one commit agree better than runs minutes apart: a machine drifts (other
jobs, temperature, caches), and a keep ref measured long ago carries that drift into every
comparison. Runs of the keep ref spread over the session show it in sigma, and the latest of them
are the reference.

Where the candidate runs in the user's own tree, the tree is brought to the keep ref for that run
and back to the candidate after it. Only a tree exactly at the candidate is switched: edits in it
(made during the run, by the run or by the user), or an untracked file where the keep ref has a
file the candidate removed, are left alone and the keep ref is not run then.
What changes in the tree during the keep ref's run is pinned under a ref before the tree goes
back. A kill during that run leaves the tree at the keep ref, which is where recovery of an
interrupted experiment brings it anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from autoresearch.store import git


@contextlib.contextmanager
def keep_ref_in_tree(
    repo: str, keep: str, candidate: str, pin_edits: Callable[[str], str]
) -> Iterator[bool]:
    """The user's tree at ``keep`` while the block runs, then at ``candidate`` again; yields
    False, changing nothing, when the tree is not exactly ``candidate`` now."""
    if git.head(repo) != candidate or not _switchable(repo, keep, candidate):
        yield False
        return
    git.reset_hard(repo, keep)
    try:
        yield True
    finally:
        edits = git.snapshot_uncommitted(repo)
        if edits:
            pin_edits(edits)
        git.reset_hard(repo, candidate)


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
