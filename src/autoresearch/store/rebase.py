"""Carrying a candidate onto a newer keep ref without a checkout: git's three-way merge of
trees (``merge-tree --write-tree``), then a commit of the result on the keep ref."""

from __future__ import annotations

from autoresearch.store import git


def rebase_onto(repo: str, commit: str, onto: str, message: str, identity: bool) -> str | None:
    """``commit``'s changes since its merge base with ``onto``, committed on ``onto``; None when
    they conflict with what ``onto`` changed."""
    merged = git.completed(repo, "merge-tree", "--write-tree", "--no-messages", onto, commit)
    if merged.returncode == 1 or "failure to merge" in merged.stderr:
        return None  # a conflict, or a merge driver of the repository's that was not run
    if merged.returncode != 0:
        raise git.GitError(merged.stderr.strip() or "git merge-tree failed")
    tree = merged.stdout.split("\n", 1)[0].strip()
    return git.commit_tree(repo, tree, onto, message, identity)
