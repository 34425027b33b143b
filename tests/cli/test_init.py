from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import Cli, git, ledger_lines, repo_state, write_train


def test_init_creates_branch_ledger_exclusions_and_baseline(repo: Path, cli: Cli) -> None:
    result = cli.init("--also", "peak_vram_mb", "--budget", "30")
    assert result.returncode == 0, result.stderr
    assert git(repo, "branch", "--show-current") == "autoresearch/t"
    assert "keep" in result.stdout and "val_bpb 1.000000" in result.stdout
    rows = ledger_lines(repo)
    assert rows[0] == [
        "commit",
        "val_bpb",
        "peak_vram_mb",
        "runs",
        "spread",
        "seconds",
        "tokens",
        "cost_usd",
        "reason",
        "status",
        "description",
    ]
    assert rows[1][0] == git(repo, "rev-parse", "--short=7", "HEAD")
    assert rows[1][1:3] == ["1.000000", "1000.000000"]
    assert rows[1][3:5] == ["3", "0.000000"]  # measured three times: the metric is deterministic
    assert rows[1][-2:] == ["keep", "baseline"]
    exclude = (repo / ".git" / "info" / "exclude").read_text()
    assert "/results.tsv" in exclude and "/run.log" in exclude and "/.autoresearch/" in exclude
    assert git(repo, "status", "--porcelain") == ""
    assert "val_bpb: 1.000000" in (repo / "run.log").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget", "-5"], "budget"),
        (["--pattern", "val_bpb: \\S+"], "capture group"),
        (["--pattern", "(unclosed"], "bad --pattern"),
        (["--direction", "sideways"], "direction"),
    ],
)
def test_init_refuses_bad_settings_and_changes_nothing(
    repo: Path, cli: Cli, args: list[str], message: str
) -> None:
    before = repo_state(repo)
    result = cli.init(*args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert repo_state(repo) == before


def test_init_refuses_without_run_or_metric(repo: Path, cli: Cli) -> None:
    before = repo_state(repo)
    assert "no run command" in cli("init", "--metric", "val_bpb").stderr
    assert "no metric" in cli("init", "--run", "true").stderr
    assert repo_state(repo) == before


def test_init_refuses_uncommitted_tracked_changes(repo: Path, cli: Cli) -> None:
    write_train(repo, 2.0)
    before = repo_state(repo)
    result = cli.init()
    assert result.returncode == 2 and "uncommitted changes (train.py)" in result.stderr
    assert repo_state(repo) == before


def test_init_refuses_an_existing_branch(repo: Path, cli: Cli) -> None:
    git(repo, "branch", "autoresearch/t")
    before = repo_state(repo)
    result = cli.init()
    assert result.returncode == 2 and "already exists" in result.stderr
    assert repo_state(repo) == before


def test_init_refuses_outside_git_and_on_unborn_head(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = Cli(plain).init()
    assert result.returncode == 2 and "not in a git repository" in result.stderr
    subprocess.run(["git", "init", "-q", str(plain)], check=True)
    result = Cli(plain).init()
    assert result.returncode == 2 and "unborn" in result.stderr
    assert not (plain / ".autoresearch").exists()


def test_settings_file_is_read_and_excluded_from_default_scope(repo: Path) -> None:
    (repo / "autoresearch.toml").write_text(
        f'run = "{sys.executable} train.py"\nmetric = "val_bpb"\nprotect = ["prepare.py"]\n'
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "settings")
    cli = Cli(repo)
    assert cli("init", "--tag", "s").returncode == 0
    (repo / "autoresearch.toml").write_text("run = 'true'\nmetric = 'x'\n")
    result = cli("try", "-m", "edit settings")
    assert result.returncode == 2 and "outside scope: autoresearch.toml" in result.stderr
    git(repo, "checkout", "autoresearch.toml")
    (repo / "README.md").write_text("changed\n")
    write_train(repo, 0.5)
    assert cli("try", "-m", "readme and train").returncode == 0


def test_init_refuses_a_failing_run_showing_its_tail_and_creates_nothing(
    repo: Path, cli: Cli
) -> None:
    write_train(repo, 1.0, EXIT=3)
    git(repo, "commit", "-qam", "broken")
    before = repo_state(repo)
    result = cli.init()
    assert result.returncode == 2
    assert "training..." in result.stderr  # the log's tail is shown
    log = result.stderr.split("the whole log: ")[1].splitlines()[0]
    assert "val_bpb: 1.000000" in Path(log).read_text()
    assert result.stderr.strip().splitlines()[-1] == (
        "autoresearch: the run failed (exit 3): nothing was created; fix it and init again"
    )
    assert repo_state(repo) == before
    # Refused again: the one log of this repository's init is replaced, not joined by another.
    write_train(repo, 2.0, EXIT=4)
    git(repo, "commit", "-qam", "still broken")
    again = cli.init()
    assert again.returncode == 2
    assert again.stderr.split("the whole log: ")[1].splitlines()[0] == log
    assert "val_bpb: 2.000000" in Path(log).read_text()
    assert "val_bpb: 1.000000" not in Path(log).read_text()
    Path(log).unlink()


def test_a_crashed_first_measurement_is_recorded_and_the_next_success_becomes_baseline(
    repo: Path, cli: Cli
) -> None:
    write_train(repo, 1.0, EXIT=3)
    git(repo, "commit", "-qam", "broken")
    assert cli.init("--no-baseline").returncode == 0
    crashed = cli("try", "-m", "baseline")
    assert crashed.stdout.startswith("crash")
    assert "crash" in crashed.stdout and "exit 3" in crashed.stdout
    write_train(repo, 1.2)
    fixed = cli("try", "-m", "fix exit code")
    assert fixed.returncode == 0 and "first measurement" in fixed.stdout
    assert [row[-2] for row in ledger_lines(repo)[1:]] == ["crash", "keep"]
    status = cli("status", "--json")
    assert '"baseline": 1.2' in status.stdout


def test_no_baseline_then_first_try_measures_the_start(repo: Path, cli: Cli) -> None:
    assert cli.init("--no-baseline").returncode == 0
    assert len(ledger_lines(repo)) == 1
    result = cli("try", "-m", "baseline")
    assert result.returncode == 0 and "first measurement" in result.stdout
    again = cli("try", "-m", "again")
    assert again.returncode == 2 and "no change from the keep ref" in again.stderr


def test_a_machine_without_a_git_identity_still_records_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_train(repo, 1.0)
    git(repo, "add", ".")
    git(repo, "-c", "user.name=a", "-c", "user.email=a@example.com", "commit", "-qm", "start")
    cli = Cli(repo)
    assert cli.init().returncode == 0
    write_train(repo, 0.5)
    assert cli("try", "-m", "better").stdout.startswith("keep")
    assert git(repo, "log", "-1", "--format=%an <%ae>") == "autoresearch <autoresearch@localhost>"
    unset = subprocess.run(["git", "config", "--get", "user.email"], cwd=repo, capture_output=True)
    assert unset.returncode == 1  # the user's configuration was left as it was
