"""Fixtures: a real git repository in a temp folder and the real CLI as a child process."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Cli, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture
def cli(repo: Path) -> Cli:
    return Cli(repo)
