"""The executors alone, against a real repository and real processes."""

from __future__ import annotations

import sys
from pathlib import Path

from support import git

from autoresearch.store.executors import LocalExecutor, RunRequest
from autoresearch.store.executors.worktree import WorktreeExecutor

# Prints the devices the run was given and the first line of train.py as the run sees it.
SHOW = (
    f'{sys.executable} -c "import os; '
    "print(os.environ.get('CUDA_VISIBLE_DEVICES'), open('train.py').readline())\""
)


def test_a_worktree_run_sees_exactly_its_commit_with_its_devices(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("VALUE = 2\n")
    git(repo, "commit", "-qam", "second")
    branch = git(repo, "rev-parse", "--abbrev-ref", "HEAD")
    place = repo / ".autoresearch" / "worktrees" / "run-0"
    place.mkdir(parents=True)  # left behind, not a worktree: git must not act on the repo
    (place / "junk.txt").write_text("x")
    executor = WorktreeExecutor(str(repo), str(place), devices=("3",))
    log = repo.parent / "run.log"
    ran = executor.run(RunRequest(first, SHOW, str(log), {"PATH": "/usr/bin:/bin"}))
    assert ran.exit_code == 0
    assert log.read_text().split() == ["3", "import", "os,", "sys,", "time"]
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == branch
    assert (repo / "train.py").read_text() == "VALUE = 2\n"
    assert not (place / "junk.txt").exists()
    executor.close()
    assert not place.exists() and len(git(repo, "worktree", "list").splitlines()) == 1


def test_the_local_executor_runs_in_the_tree_as_it_stands(repo: Path) -> None:
    (repo / "train.py").write_text("uncommitted = 1\n")
    log = repo.parent / "run.log"
    ran = LocalExecutor(str(repo)).run(RunRequest("HEAD", SHOW, str(log), {"PATH": "/usr/bin"}))
    assert ran.exit_code == 0 and log.read_text().split() == ["None", "uncommitted", "=", "1"]
