from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support import Cli, git

# Two knobs: A carries a real gain, B a tiny one lost in the noise.
TRAIN = """\
import os, random
A = {a}
B = {b}
rng = random.Random(int(os.environ.get("AUTORESEARCH_SEED", "0")))
print(f"val_bpb: {{A - B + rng.gauss(0, 0.01):.6f}}")
"""


def write(repo: Path, a: float, b: float) -> None:
    (repo / "train.py").write_text(TRAIN.format(a=a, b=b))


@pytest.fixture
def audited(repo: Path, cli: Cli) -> Cli:
    write(repo, 1.0, 0.0)
    git(repo, "commit", "-qam", "noisy")
    assert cli.init("--noise", "off").returncode == 0
    write(repo, 0.9, 0.0)
    assert cli("try", "-m", "A down").stdout.startswith("keep")
    write(repo, 0.9, 0.0005)
    assert cli("try", "-m", "B tiny").stdout.startswith("keep")
    return cli


def test_audit_confirms_the_real_gain_with_an_interval(repo: Path, audited: Cli) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    result = audited("audit", "--runs", "4")
    assert result.returncode == 0, result.stderr
    assert "claimed improvement (ledger)" in result.stdout
    assert "95% CI" in result.stdout and "of the claim" in result.stdout
    data = json.loads(next((repo / ".autoresearch/t/audits").iterdir()).read_text())
    assert len(data["baseline_runs"]) == 4 and len(data["best_runs"]) == 4
    assert 0.07 < data["confirmed"] < 0.13 and data["low"] > 0
    assert (repo / "audit.md").read_text().startswith("# Audit of val_bpb")
    # The session is left exactly as it was.
    assert git(repo, "branch", "--show-current") == "autoresearch/t"
    assert git(repo, "rev-parse", "HEAD") == keep
    assert git(repo, "status", "--porcelain") == ""


def test_leave_one_out_shows_which_keep_carried_the_gain(repo: Path, audited: Cli) -> None:
    result = audited("audit", "--runs", "3", "--keeps")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    tiny = next(line for line in lines if "B tiny" in line)
    assert "not confirmed: the interval includes 0" in tiny
    assert git(
        repo,
        "rev-parse",
        "--verify",
        "-q",
        "refs/autoresearch/t/audit/without-" + git(repo, "rev-parse", "--short=7", "HEAD"),
    )


def test_audit_refuses_before_anything_was_kept(repo: Path, cli: Cli) -> None:
    cli.init()
    result = cli("audit")
    assert result.returncode == 2 and "nothing to audit yet" in result.stderr


def test_audit_killed_midway_is_undone_by_the_next_command(repo: Path, audited: Cli) -> None:
    (repo / ".autoresearch/t/audit.json").write_text(
        json.dumps({"branch": "autoresearch/t", "group": None})
    )
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    result = audited("status")
    assert result.returncode == 0
    reset = audited("reset")
    assert "an audit was interrupted" in reset.stderr
    assert git(repo, "branch", "--show-current") == "autoresearch/t"
    assert sys.executable
