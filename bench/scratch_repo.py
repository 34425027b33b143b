"""A throwaway git repository of many small files, for the benchmarks."""

from __future__ import annotations

import subprocess
from pathlib import Path


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
