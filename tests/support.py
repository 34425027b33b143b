"""Helpers for the engine tests: a real git repository in a temp folder, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TRAIN = """\
import os, sys, time
VALUE = {value}
SLEEP = 0
EXIT = 0
time.sleep(SLEEP)
print("training...")
print(f"val_bpb: {{VALUE:.6f}}")
print("peak_vram_mb: 1000")
sys.exit(EXIT)
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def write_train(repo: Path, value: float = 1.0, **changes: object) -> None:
    text = TRAIN.format(value=value)
    for name, new in changes.items():
        text = text.replace(f"{name} = 0", f"{name} = {new}")
    (repo / "train.py").write_text(text)


def make_repo(tmp_path: Path) -> Path:
    """A project with train.py printing val_bpb, a protected prepare.py, one commit."""
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    write_train(path, 1.0)
    (path / "prepare.py").write_text("DATA = 'fixed'\n")
    (path / "README.md").write_text("project\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "start")
    return path


class Cli:
    """Runs ``python -m autoresearch`` in a repository, as a user's script would."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "autoresearch", *args],
            cwd=self.repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "autoresearch", *args],
            cwd=self.repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def init(self, *extra: str) -> subprocess.CompletedProcess[str]:
        result = self(
            "init",
            "--tag",
            "t",
            "--run",
            f"{sys.executable} train.py",
            "--metric",
            "val_bpb",
            "--scope",
            "train.py",
            "--protect",
            "prepare.py",
            *extra,
        )
        return result


def ledger_lines(repo: Path) -> list[list[str]]:
    return [line.split("\t") for line in (repo / "results.tsv").read_text().splitlines()]
