from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support import EVENT_DEADLINE

from autoresearch.errors import UserError
from autoresearch.loop.agents.knobs import parse_knobs, read_values
from autoresearch.loop.demo import create_demo_project
from autoresearch.rules.settings import build_settings
from autoresearch.store.settings_file import read_settings_file

VAL_LOSS = re.compile(r"^val_loss:\s*(\S+)$", re.MULTILINE)


def run_training(project: Path, seed: str | None = None) -> float:
    env = {key: value for key, value in os.environ.items() if key != "AUTORESEARCH_SEED"}
    if seed is not None:
        env["AUTORESEARCH_SEED"] = seed
    result = subprocess.run(
        [sys.executable, "train.py"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=EVENT_DEADLINE,
        check=True,
    )
    (value,) = VAL_LOSS.findall(result.stdout)
    return float(value)


def test_the_demo_is_a_committed_repository_whose_run_prints_val_loss(tmp_path: Path) -> None:
    project = create_demo_project(tmp_path / "demo")
    git = ["git", "-C", str(project)]
    assert (
        subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True).stdout == ""
    )
    tracked = subprocess.run([*git, "ls-files"], capture_output=True, text=True).stdout.split()
    assert sorted(tracked) == ["autoresearch.toml", "program.md", "train.py"]
    first = run_training(project)
    assert 0.3 < first < 2.0
    assert run_training(project) == first
    assert run_training(project, seed="5") != first


def test_the_settings_run_this_interpreter_and_declare_the_knobs(tmp_path: Path) -> None:
    project = create_demo_project(tmp_path / "with space", experiments=12)
    file_values, _ = read_settings_file(project)
    settings = build_settings(file_values, {})
    assert shlex.split(settings.run) == [sys.executable, "train.py"]
    assert settings.metric == "val_loss" and settings.direction == "minimize"
    assert settings.loop["max_experiments"] == 12
    knobs = parse_knobs(settings.knobs, project)
    assert read_values(knobs, project) == {
        "LEARNING_RATE": 0.001,
        "HIDDEN": 8,
        "WEIGHT_DECAY": 0.0001,
        "BATCH_SIZE": 256,
    }


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(UserError, match="not empty"):
        create_demo_project(tmp_path)
    with pytest.raises(UserError, match="not a folder"):
        create_demo_project(tmp_path / "notes.txt")
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
