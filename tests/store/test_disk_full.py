"""A full disk: one line that says so, nothing recorded is lost, the next command recovers."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Cli, git, ledger_lines, make_repo, write_train


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where``; the test is skipped where mounting is denied."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", f"ar-{uuid.uuid4().hex[:8]}", str(where)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_a_full_disk_says_so_and_the_next_command_goes_on(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        repo = make_repo(disk)
        cli = Cli(repo)
        assert cli.init().returncode == 0
        rows_before = ledger_lines(repo)
        write_train(repo, 0.5)
        filler = fill(disk)
        result = cli("try", "-m", "on a full disk")
        assert result.returncode != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "no space left on device" in lines[0], result.stderr
        assert "index.lock" not in result.stderr
        assert ledger_lines(repo)[: len(rows_before)] == rows_before
        filler.unlink()
        again = cli("try", "-m", "with room again")
        assert again.returncode == 0, again.stderr
        assert ledger_lines(repo)[-1][-1] in ("with room again", "on a full disk")
        assert git(repo, "fsck", "--no-progress") == ""
