"""A throwaway git repository of many small files, and how the benchmarks time `try` in it."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

RUN = "echo 'score: 1'"
EDITED = "pkg0/module0.py"
# As installed by pip, with compiled bytecode: a user's shell does not forbid writing it.
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_repo(root: Path, files: int) -> Path:
    """``files`` Python modules in folders of 100, plus ``module.py``, committed on main."""
    repo = root / "repo"
    for index in range(files):
        folder = repo / f"pkg{index // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{index}.py").write_text(f"VALUE_{index} = {index}\n" * 20)
    (repo / "module.py").write_text("VALUE = 0\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    return repo


def edit(repo: Path, step: int) -> None:
    (repo / EDITED).write_text(f"VALUE_0 = {step}\n")


def start_cli_session(
    command: Sequence[str],
    repo: Path,
    tag: str,
    env: Mapping[str, str] = USER_ENV,
    extra: Sequence[str] = (),
) -> None:
    """`autoresearch init` with the run above and the edited file as the whole scope."""
    init = ["init", "--tag", tag, "--run", RUN, "--metric", "score", "--scope", EDITED, *extra]
    subprocess.run([*command, *init], cwd=repo, check=True, capture_output=True, env=env)


def time_cli_try(
    command: Sequence[str], repo: Path, step: int, env: Mapping[str, str] = USER_ENV
) -> float:
    """Edit the file and run `try` once: its wall time minus the run's own."""
    edit(repo, step)
    started = time.perf_counter()
    out = subprocess.run(
        [*command, "try", "-m", f"step {step}", "--json"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return time.perf_counter() - started - json.loads(out)["seconds"]


def median_and_spread(times: Sequence[float]) -> tuple[float, str]:
    """The median, and it printed in ms with the 10th-90th percentile range."""
    deciles = statistics.quantiles(times, n=10)
    median = statistics.median(times)
    return median, f"{median * 1000:7.1f} ms ({deciles[0] * 1000:.0f}-{deciles[-1] * 1000:.0f})"
