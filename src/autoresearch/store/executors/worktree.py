"""Runs in a clean git worktree of exactly the candidate commit, never in the tree the agent
edits: nothing the agent leaves lying around (an untracked file, an edit to a protected file)
can reach a run. The worktree is reused, cleaned between runs, and removed at the end.

Untracked inputs a run needs (a data folder, a virtualenv, a cache) are linked in by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from autoresearch.errors import UserError
from autoresearch.store import git
from autoresearch.store.executors.base import UNWATCHED, Ran, RunRequest, Watch
from autoresearch.store.executors.local import run_in


class WorktreeExecutor:
    name = "worktree"

    def __init__(
        self, repo: str, place: str, links: tuple[str, ...] = (), devices: tuple[str, ...] = ()
    ) -> None:
        self.repo = repo
        self.place = place
        self.links = links  # relative to the repository, checked by ``check_links``
        self.devices = devices  # for every run that names none of its own

    @property
    def workdir(self) -> str:
        return self.place

    def checkout(self, commit: str) -> None:
        """The worktree at exactly ``commit``: tracked files as committed, nothing else but the
        links."""
        if os.path.isdir(self.place) and not os.path.isfile(os.path.join(self.place, ".git")):
            # Not a worktree (any more): git would act on the repository around it instead.
            remove_worktree(self.repo, self.place)
        if os.path.isdir(self.place):
            try:
                git.git(self.place, "checkout", "-q", "--detach", "-f", commit)
                git.git(self.place, "clean", "-q", "-ffdx")
            except git.GitError:
                remove_worktree(self.repo, self.place)  # half made, or broken: made again
        if not os.path.isdir(self.place):
            os.makedirs(os.path.dirname(self.place), exist_ok=True)
            git.git(self.repo, "worktree", "prune")
            git.git(self.repo, "worktree", "add", "-q", "--detach", "-f", self.place, commit)
        for link in self.links:
            target = os.path.join(self.place, link)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.path.join(self.repo, link), target)

    def run(self, request: RunRequest, watch: Watch = UNWATCHED) -> Ran:
        self.checkout(request.commit)
        return run_in(self.place, request._replace(devices=request.devices or self.devices), watch)

    def close(self) -> None:
        remove_worktree(self.repo, self.place)


def remove_worktree(repo: str, place: str) -> None:
    """Remove a worktree of ``repo`` (gone already is fine)."""
    if os.path.isdir(place):
        with contextlib.suppress(git.GitError):
            git.git(repo, "worktree", "remove", "--force", place)
        shutil.rmtree(place, ignore_errors=True)
    with contextlib.suppress(git.GitError):
        git.git(repo, "worktree", "prune")


def check_links(repo: str, paths: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``--link`` paths as paths relative to the repository; a bad one is refused."""
    checked = []
    for path in paths:
        absolute = os.path.abspath(os.path.join(repo, path))
        relative = os.path.relpath(absolute, repo)
        if relative.startswith(os.pardir) or relative == os.curdir:
            raise UserError(
                f"--link {path}: not inside the repository (a run reaches it by its own path)"
            )
        if not os.path.lexists(absolute):
            raise UserError(f"--link {path}: no such file or folder")
        if git.is_tracked(repo, relative):
            raise UserError(f"--link {path}: tracked by git, so every run has it already")
        checked.append(relative)
    return tuple(checked)
