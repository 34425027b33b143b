"""Fixtures: a real git repository in a temp folder and the real CLI as a child process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import OUTSIDE_VARIABLE, Cli, fix_the_harness, make_repo, write_train


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


@pytest.fixture
def chained(repo: Path, kept_session: Cli) -> Cli:
    """Session t (baseline 1.0, kept 0.8, a discard), ended; the harness fixed; session t2
    continuing it, with its baseline 8.0 and one kept change (6.0)."""
    cli = kept_session
    write_train(repo, 0.9)
    assert cli("try", "-m", "worse").stdout.startswith("discard")
    assert cli("end").returncode == 0
    fix_the_harness(repo, 8.0)
    started = cli.init("--continue", "t", tag="t2")
    assert started.returncode == 0, started.stderr
    assert "continues session t" in started.stdout
    write_train(repo, 6.0)
    assert cli("try", "-m", "better under the fixed harness").stdout.startswith("keep")
    return cli
