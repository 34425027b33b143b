"""``autoresearch try`` from the shell, minus the run, for several versions side by side.

Each version is a git revision of this project, checked out into a temporary worktree. The
versions take turns, one experiment each, in one 1,000-file repository, so that all of them see
the same moments of a shared machine.

Usage: python bench/versions.py REV [REV ...] [--experiments N]
  e.g. python bench/versions.py HEAD~5 HEAD
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch_repo import git, make_repo

PROJECT = Path(__file__).resolve().parent.parent
RUN = "echo 'score: 1'"


def checkout(revision: str, root: Path, stack: contextlib.ExitStack) -> Path:
    """The project's ``src`` folder at ``revision``, in a worktree removed afterwards."""
    folder = root / f"version-{len(list(root.iterdir()))}"
    git(PROJECT, "worktree", "add", "-q", "--detach", str(folder), revision)
    stack.callback(git, PROJECT, "worktree", "remove", "--force", str(folder))
    return folder / "src"


def try_once(repo: Path, source: Path, step: int) -> float:
    (repo / "pkg0" / "module0.py").write_text(f"VALUE_0 = {step}\n")
    # As installed by pip, with compiled bytecode: a user's shell does not forbid writing it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(source)
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "autoresearch", "try", "-m", f"step {step}", "--json"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return time.perf_counter() - started - json.loads(out)["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", metavar="REV")
    parser.add_argument("--experiments", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp, contextlib.ExitStack() as stack:
        checkouts = Path(temp, "checkouts")
        checkouts.mkdir()
        sources = [checkout(revision, checkouts, stack) for revision in args.revisions]
        repo = make_repo(Path(temp), 999)
        init = ["init", "--tag", "versions", "--run", RUN, "--metric", "score"]
        subprocess.run(
            [sys.executable, "-m", "autoresearch", *init, "--scope", "pkg0/module0.py"],
            cwd=repo,
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(sources[-1])},
        )
        times: list[list[float]] = [[] for _ in sources]
        step = 0
        for _ in range(args.experiments):
            for index, source in enumerate(sources):
                step += 1
                times[index].append(try_once(repo, source, step))
    print(f"`autoresearch try` minus the run, {args.experiments} each, medians (10th-90th pct)")
    for revision, samples in zip(args.revisions, times, strict=True):
        deciles = statistics.quantiles(samples, n=10)
        print(
            f"{revision:>24}: {statistics.median(samples) * 1000:6.1f} ms"
            f" ({deciles[0] * 1000:.0f}-{deciles[-1] * 1000:.0f})"
        )


if __name__ == "__main__":
    main()
