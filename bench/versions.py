"""``autoresearch try`` from the shell, minus the run, for several versions side by side.

Each version is a git revision of this project, checked out into a temporary worktree. The
versions take turns, one experiment each, each in a 1,000-file repository of its own, so that all
of them see the same moments of a shared machine.

Usage: python bench/versions.py REV [REV ...] [--experiments N]
  e.g. python bench/versions.py HEAD~5 HEAD
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

from scratch_repo import (
    USER_ENV,
    git,
    make_repo,
    median_and_spread,
    start_cli_session,
    time_cli_try,
)

PROJECT = Path(__file__).resolve().parent.parent


def checkout(revision: str, root: Path, stack: contextlib.ExitStack) -> Path:
    """The project's ``src`` folder at ``revision``, in a worktree removed afterwards."""
    folder = root / f"version-{len(list(root.iterdir()))}"
    git(PROJECT, "worktree", "add", "-q", "--detach", str(folder), revision)
    stack.callback(git, PROJECT, "worktree", "remove", "--force", str(folder))
    return folder / "src"


def with_source(source: Path) -> dict[str, str]:
    return {**USER_ENV, "PYTHONPATH": str(source)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", metavar="REV")
    parser.add_argument("--experiments", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp, contextlib.ExitStack() as stack:
        checkouts = Path(temp, "checkouts")
        checkouts.mkdir()
        sources = [checkout(revision, checkouts, stack) for revision in args.revisions]
        command = [sys.executable, "-m", "autoresearch"]
        # A session each: a version may keep books another does not know (the record in git).
        repos = []
        for index, source in enumerate(sources):
            (Path(temp) / f"repo-{index}").mkdir()
            repos.append(make_repo(Path(temp) / f"repo-{index}", 999))
            start_cli_session(command, repos[-1], "versions", with_source(source))
        times: list[list[float]] = [[] for _ in sources]
        for step in range(1, args.experiments + 1):
            for index, source in enumerate(sources):
                env = with_source(source)
                times[index].append(time_cli_try(command, repos[index], step, env))
    print(f"`autoresearch try` minus the run, {args.experiments} each, medians (10th-90th pct)")
    for revision, samples in zip(args.revisions, times, strict=True):
        print(f"{revision:>24}: {median_and_spread(samples)[1]}")


if __name__ == "__main__":
    main()
