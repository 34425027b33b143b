"""Fixtures: a real git repository in a temp folder and the real CLI as a child process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import OUTSIDE_VARIABLE, Cli, make_repo, write_train


@pytest.fixture(autouse=True, scope="session")
def tests_outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    os.environ[OUTSIDE_VARIABLE] = str(tmp_path_factory.getbasetemp())
    yield
    del os.environ[OUTSIDE_VARIABLE]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture
def cli(repo: Path) -> Cli:
    return Cli(repo)


@pytest.fixture
def kept_session(repo: Path, cli: Cli) -> Cli:
    """The test project's session with its baseline and one kept experiment (0.8)."""
    assert cli.init().returncode == 0
    write_train(repo, 0.8)
    assert cli("try", "-m", "better").stdout.startswith("keep")
    return cli
