"""A small real project to try the loop on, made in a folder of the user's choosing.

It is a numpy classifier whose four settings start out poor, a research program, and settings
for the built-in tuner, committed in a new git repository. A run takes a second or two on one
core, so a whole session of ``RECOMMENDED_EXPERIMENTS`` fits in about two minutes.
"""

from __future__ import annotations

import json
import shlex
import string
import sys
from importlib import resources
from pathlib import Path

from autoresearch.errors import UserError
from autoresearch.store import git
from autoresearch.store.settings_file import SETTINGS_FILE

# Enough for the tuner to get well past the random warm-up and close in on good settings.
RECOMMENDED_EXPERIMENTS = 50
COPIED_FILES = ("train.py", "program.md")
SETTINGS_TEMPLATE = "autoresearch.toml.template"


def create_demo_project(directory: Path, experiments: int = RECOMMENDED_EXPERIMENTS) -> Path:
    """Write the demo into ``directory`` (new or empty) and commit it; returns its path."""
    directory = directory.absolute()
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()):
        raise UserError(f"{directory} is not empty: give a new or empty folder for the demo")
    templates = resources.files("autoresearch.loop") / "demo_files"
    directory.mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        (directory / name).write_bytes((templates / name).read_bytes())
    (directory / SETTINGS_FILE).write_text(
        settings_text((templates / SETTINGS_TEMPLATE).read_text(encoding="utf-8"), experiments),
        encoding="utf-8",
    )
    git.git(directory, "init", "-q")
    git.commit_paths(
        directory,
        [*COPIED_FILES, SETTINGS_FILE],
        "A small classifier to tune: the autoresearch demo",
        identity=git.has_identity(directory),
    )
    return directory


def settings_text(template: str, experiments: int) -> str:
    """The settings file, running train.py with this very interpreter (numpy is there)."""
    command = f"{shlex.quote(sys.executable)} train.py"
    # A JSON string with its non-ASCII left as is is also a valid TOML basic string.
    return string.Template(template).substitute(
        run=json.dumps(command, ensure_ascii=False), experiments=experiments
    )
