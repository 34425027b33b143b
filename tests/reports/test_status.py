from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import Cli, write_train

KARPATHY_STYLE = (
    "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"
    "baseline\t0.997900\t44.0\tkeep\tbaseline\n"
    "bea057b\t0.986041\t43.9\tkeep\thalve batch\n"
    "187e419\t0.982603\t60.2\tkeep\tdepth 9\n"
    "c4ce95c\t0.985895\t60.2\tdiscard\tunembedding LR\n"
    "e05a87d\t0.000000\t0.0\tcrash\tbatch 131K\n"
)


def test_status_json_has_the_documented_keys(repo: Path, cli: Cli) -> None:
    cli.init()
    write_train(repo, 0.5)
    cli("try", "-m", "better")
    write_train(repo, 0.7)
    cli("try", "-m", "worse")
    data = json.loads(cli("status", "--json").stdout)
    for key in (
        "tag",
        "metric",
        "direction",
        "baseline",
        "best",
        "best_commit",
        "keep_ref",
        "experiments",
        "keeps",
        "discards",
        "crashes",
    ):
        assert key in data
    assert (data["tag"], data["metric"], data["direction"]) == ("t", "val_bpb", "minimize")
    assert (data["baseline"], data["best"]) == (1.0, 0.5)
    # keeps: kept changes, the baseline not counted.
    assert (data["experiments"], data["keeps"], data["discards"]) == (3, 1, 1)
    assert data["keep_rate"] == 0.5
    assert data["best_commit"] == data["keep_ref"]
    assert data["change_percent"] == -50.0
    assert data["running"] is None


def test_status_reads_a_karpathy_ledger_without_a_session(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    path.write_text(KARPATHY_STYLE)
    cli = Cli(tmp_path)
    text = cli("status", "--results", str(path))
    assert text.returncode == 0
    assert "5 experiments: baseline, 2 kept, 1 discarded, 1 crashed · keep rate 50%" in text.stdout
    assert "running" not in text.stdout  # a ledger alone cannot know
    data = json.loads(cli("status", "--results", str(path), "--json").stdout)
    assert (data["baseline"], data["best"], data["best_commit"]) == (0.9979, 0.982603, "187e419")
    assert data["direction"] == "minimize"


def test_status_json_has_one_shape_for_a_session_and_a_ledger(repo: Path, cli: Cli) -> None:
    cli.init()
    of_session = json.loads(cli("status", "--json").stdout)
    of_ledger = json.loads(cli("status", "--results", "results.tsv", "--json").stdout)
    assert sorted(of_ledger) == sorted(of_session)
    assert (of_ledger["tag"], of_ledger["keep_ref"], of_ledger["running"]) == (None, None, None)
    assert of_ledger["rewinds"] == [] and of_ledger["best"] == of_session["best"] == 1.0
    text = cli("status", "--results", "results.tsv").stdout
    assert text.startswith("ledger · val_bpb (minimize)") and "keep ref" not in text


def test_status_outside_a_session_is_a_clear_error(repo: Path, cli: Cli) -> None:
    result = cli("status")
    assert result.returncode == 2 and "no session here" in result.stderr
    missing = cli("status", "--results", "nope.tsv")
    assert missing.returncode == 2 and "no ledger at nope.tsv" in missing.stderr


def test_session_commands_refuse_outside_git_and_on_an_unborn_branch(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for command in (("status",), ("try", "-m", "x"), ("reset",)):
        result = Cli(plain)(*command)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"autoresearch: not in a git repository: {Path('.')}"
        ]
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    for command in (("status",), ("try", "-m", "x")):
        result = Cli(plain)(*command)
        assert result.returncode == 2 and "no session here" in result.stderr
    assert not (plain / ".autoresearch").exists()


def test_help_wraps_to_the_terminal_width_it_is_given(tmp_path: Path) -> None:
    def budget_line(columns: int) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "autoresearch", "init", "--help"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": str(columns)},
            cwd=tmp_path,
        )
        assert result.returncode == 0
        lines = result.stdout.splitlines()
        return next(line for line in lines if line.startswith("  --budget BUDGET"))

    assert budget_line(200).endswith("seconds a run is meant to take; killed at 2x")
    assert len(budget_line(60)) <= 60 and "killed at 2x" not in budget_line(60)


def test_status_with_its_output_closed_still_exits_cleanly(tmp_path: Path) -> None:
    ledger = tmp_path / "results.tsv"
    ledger.write_text(KARPATHY_STYLE)
    for closed in (1, 2):
        result = subprocess.run(
            [sys.executable, "-m", "autoresearch", "status", "--results", str(ledger)],
            stdout=subprocess.PIPE if closed == 2 else None,
            stderr=subprocess.PIPE if closed == 1 else None,
            preexec_fn=lambda fd=closed: os.close(fd),
            text=True,
        )
        assert result.returncode == 0, result.stderr
