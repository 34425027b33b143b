"""The code stays ruff-clean: checked here so a lint error fails the build like a bug."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = [sys.executable, "-m", "ruff"]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
def test_ruff_check_and_format() -> None:
    targets = ["src", "tests", "bench"]
    check = subprocess.run([*RUFF, "check", *targets], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    form = subprocess.run(
        [*RUFF, "format", "--check", *targets], cwd=ROOT, capture_output=True, text=True
    )
    assert form.returncode == 0, form.stdout
