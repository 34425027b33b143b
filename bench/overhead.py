"""What one experiment costs beyond its run, next to the bare git floor, measured side by side.

In a repository of 1,000 files with a run command that does next to nothing, this times:

- the git floor: edit a file, add, commit, update a ref, reset hard (the least any tool
  that keeps experiments in git must do);
- the engine's overhead per experiment, called in-process (wall time minus the run itself);
- one ``autoresearch try`` from the shell, minus the run itself.

Usage: python bench/overhead.py [--experiments N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch_repo import git, make_repo

from autoresearch.session import Session
from autoresearch.settings import validate

RUN = "echo 'score: 1'"


def edit(repo: Path, step: int) -> None:
    (repo / "pkg0" / "module0.py").write_text(f"VALUE_0 = {step}\n")


def git_floor(repo: Path, experiments: int) -> list[float]:
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    times = []
    for step in range(experiments):
        started = time.perf_counter()
        edit(repo, step)
        git(repo, "add", "pkg0/module0.py")
        git(repo, "commit", "-qm", f"floor {step}")
        git(repo, "update-ref", f"refs/floor/{step}", "HEAD")
        git(repo, "reset", "-q", "--hard", base)
        times.append(time.perf_counter() - started)
    return times


def engine(repo: Path, experiments: int) -> list[float]:
    settings = validate(
        {"tag": "engine", "run": RUN, "metric": "score", "scope": ["pkg0/module0.py"]}
    )
    session = Session.start(repo, settings, None)
    times = []
    with session.lock():
        session.try_candidate("baseline")
        for step in range(experiments):
            edit(repo, step)
            started = time.perf_counter()
            experiment = session.try_candidate(f"engine {step}")
            times.append(time.perf_counter() - started - experiment.seconds)
    git(repo, "checkout", "-q", "main")
    return times


def installed_command() -> list[str]:
    """The ``autoresearch`` script pip installed beside this Python, as a user types it."""
    script = Path(sys.executable).parent / "autoresearch"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "autoresearch"]


def cli(repo: Path, experiments: int) -> list[float]:
    command = installed_command()
    # As installed by pip, with compiled bytecode: a user's shell does not forbid writing it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [
            *command,
            "init",
            "--tag",
            "cli",
            "--run",
            RUN,
            "--metric",
            "score",
            "--scope",
            "pkg0/module0.py",
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        env=env,
    )
    times = []
    for step in range(experiments):
        edit(repo, step)
        started = time.perf_counter()
        out = subprocess.run(
            [*command, "try", "-m", f"cli {step}", "--json"],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
        wall = time.perf_counter() - started
        times.append(wall - json.loads(out)["seconds"])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        repo = make_repo(Path(root), 999)
        floor = statistics.median(git_floor(repo, args.experiments))
        in_process = statistics.median(engine(repo, args.experiments))
        shell = statistics.median(cli(repo, args.experiments))
    print(f"repository: 1,000 files; run: {RUN!r}; {args.experiments} experiments each; medians")
    print(f"command: {' '.join(installed_command())}")
    print(f"git floor (edit, add, commit, update-ref, reset --hard): {floor * 1000:7.1f} ms")
    print(
        f"engine overhead per experiment, in-process:             {in_process * 1000:7.1f} ms"
        f"   {in_process / floor:4.2f}x the floor (target <= 3x)"
    )
    print(
        f"`autoresearch try` from the shell, minus the run:       {shell * 1000:7.1f} ms"
        f"   {shell / floor:4.2f}x the floor (target <= 150 ms)"
    )


if __name__ == "__main__":
    main()
