"""init runs the command once before it creates anything, and offers what the run printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import Cli, git, ledger_lines, repo_state, write_train
from terminal import Terminal

COUNTING = """\
import os
with open(os.environ["RUNS_FILE"], "a") as runs:
    runs.write("run\\n")
print("val_loss: 0.5")
"""


def committed(repo: Path, name: str, text: str) -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-qm", f"add {name}")


def test_a_misnamed_metric_is_refused_naming_what_the_run_printed(repo: Path, cli: Cli) -> None:
    before = repo_state(repo)
    result = cli("init", "--tag", "t", "--run", f"{sys.executable} train.py", "--metric", "val_bp")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "autoresearch: no `val_bp:` line; the run printed `val_bpb: 1.000000`, "
        "`peak_vram_mb: 1000`; did you mean --metric val_bpb? (nothing was created)"
    )
    assert repo_state(repo) == before


def test_a_run_slower_than_its_budget_is_refused_with_a_budget_proposed(
    repo: Path, cli: Cli
) -> None:
    write_train(repo, 1.0, SLEEP=0.5)
    git(repo, "commit", "-qam", "slow")
    before = repo_state(repo)
    result = cli.init("--budget", "0.2", "--timeout", "60")
    assert result.returncode == 2
    assert "more than the budget of 0.2 s (nothing was created); give --budget " in result.stderr
    assert repo_state(repo) == before


def test_the_checking_run_is_the_baselines_first_so_nothing_runs_twice(
    repo: Path, tmp_path: Path
) -> None:
    committed(repo, "count.py", COUNTING)
    runs = tmp_path / "runs.txt"
    env = {**os.environ, "RUNS_FILE": str(runs)}
    run = f"{sys.executable} count.py"
    for tag, noise, expected in (("off", "off", 1), ("auto", "auto", 3)):
        result = subprocess.run(
            [sys.executable, "-m", "autoresearch", "init", "--tag", tag, "--run", run,
             "--metric", "val_loss", "--noise", noise, "--writable", str(tmp_path),
             "--pass-env", "RUNS_FILE"],
            cwd=repo, capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert len(runs.read_text().splitlines()) == expected
        assert ledger_lines(repo)[1][2] == str(expected)  # the runs column
        runs.unlink()
        git(repo, "checkout", "-q", "main")
    logs = list((repo / ".autoresearch/off/logs").iterdir())
    assert len(logs) == 1 and "val_loss: 0.5" in logs[0].read_text()


def test_without_a_terminal_several_candidates_are_listed_not_guessed_also_ones_excluded(
    repo: Path, cli: Cli
) -> None:
    before = repo_state(repo)
    for extra in ((), ("--yes",)):
        result = cli("init", "--tag", "t", "--run", f"{sys.executable} train.py", *extra)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            "autoresearch: no metric: the run printed `val_bpb: 1.000000`, "
            "`peak_vram_mb: 1000`; give --metric with one of them"
        )
    assert repo_state(repo) == before
    also = cli("init", "--tag", "t", "--run", f"{sys.executable} train.py", "--also",
               "peak_vram_mb", "--yes")  # fmt: skip
    assert also.returncode == 0, also.stderr
    assert "metric    = val_bpb" in also.stdout


def test_yes_takes_the_one_printed_metric_with_its_direction_and_a_budget(
    repo: Path, cli: Cli
) -> None:
    committed(repo, "score.py", 'print("METRIC accuracy=0.91")\n')
    run = f"{sys.executable} score.py"
    asked = cli("init", "--tag", "t", "--run", run)
    assert asked.returncode == 2 and "(or --yes to take it)" in asked.stderr
    result = cli("init", "--tag", "t", "--run", run, "--yes")
    assert result.returncode == 0, result.stderr
    assert "direction = maximize  (guessed from the name)" in result.stdout
    assert "wrote autoresearch.toml" in result.stdout
    written = (repo / "autoresearch.toml").read_text()
    assert f"run = {run!r}".replace("'", '"') in written
    assert 'metric = "accuracy"\ndirection = "maximize"\nbudget = 5\n' in written
    assert ledger_lines(repo)[1][1] == "0.910000"
    assert "keep" in result.stdout


def test_yes_refuses_a_name_that_does_not_say_which_way_is_better(repo: Path, cli: Cli) -> None:
    committed(repo, "count.py", 'print("widgets: 3")\n')
    result = cli("init", "--tag", "t", "--run", f"{sys.executable} count.py", "--yes")
    assert result.returncode == 2
    assert "'widgets' does not say whether lower or higher is better" in result.stderr
    assert not (repo / "autoresearch.toml").exists()


def test_at_a_terminal_init_offers_the_printed_metrics_and_writes_the_settings_on_yes(
    repo: Path,
) -> None:
    terminal = Terminal(repo, "init", "--tag", "t", "--run", f"{sys.executable} train.py")
    terminal.read_until("which is the metric? [1-2]")
    assert "1. val_bpb: 1.000000" in terminal.seen and "2. peak_vram_mb: 1000" in terminal.seen
    terminal.answer("1")
    terminal.read_until("write autoresearch.toml and start the session? [Y/n]")
    assert "direction = minimize  (guessed from the name)" in terminal.seen
    # 5 s at the least: a busy machine's start-up alone may make it more.
    assert re.search(r"budget    = \d+  \(the run took", terminal.seen)
    terminal.answer("y")
    assert terminal.finish() == 0, terminal.seen
    assert "keep" in terminal.seen
    assert (
        'metric = "val_bpb"\ndirection = "minimize"\n' in (repo / "autoresearch.toml").read_text()
    )
    assert git(repo, "branch", "--show-current") == "autoresearch/t"
    assert ledger_lines(repo)[1][1] == "1.000000"


def test_at_a_terminal_a_no_creates_nothing(repo: Path) -> None:
    before = repo_state(repo)
    committed_state = before
    terminal = Terminal(repo, "init", "--tag", "t", "--run", f"{sys.executable} train.py")
    terminal.read_until("[1-2]")
    terminal.answer("peak_vram_mb")
    terminal.read_until("is a lower or a higher peak_vram_mb better?")
    terminal.answer("lower")
    terminal.read_until("[Y/n]")
    terminal.answer("n")
    assert terminal.finish() == 2
    assert "nothing was created" in terminal.seen
    assert repo_state(repo) == committed_state
    assert not (repo / "autoresearch.toml").exists()


def test_loop_checks_the_run_before_it_starts_a_session(repo: Path, cli: Cli) -> None:
    before = repo_state(repo)
    result = cli(
        "loop", "--agent", "command", "--agent-cmd", "true", "--tag", "t",
        "--run", f"{sys.executable} train.py", "--metric", "val_bp", "--max-experiments", "1",
    )  # fmt: skip
    assert result.returncode == 2 and "did you mean --metric val_bpb?" in result.stderr
    assert repo_state(repo) == before


def test_after_end_a_default_tag_init_starts_again_from_the_original_commit(
    repo: Path, cli: Cli
) -> None:
    start = git(repo, "rev-parse", "HEAD")
    run = ("--run", f"{sys.executable} train.py", "--metric", "val_bpb", "--scope", "train.py")
    assert cli("init", *run).returncode == 0
    first = git(repo, "branch", "--show-current")
    write_train(repo, 0.5)
    assert cli("try", "-m", "better").stdout.startswith("keep")
    assert cli("end").returncode == 0
    again = cli("init", *run)
    assert again.returncode == 0, again.stderr
    assert git(repo, "branch", "--show-current") == f"{first}-2"
    assert git(repo, "rev-parse", "HEAD") == start
    assert ledger_lines(repo)[1][1] == "1.000000"


@pytest.mark.parametrize("tag", ["x.", "x\n", "x.lock", "a..b", "-x", "x/y"])
def test_a_tag_git_would_refuse_is_refused_before_anything_runs(
    repo: Path, cli: Cli, tmp_path: Path, tag: str
) -> None:
    ran = tmp_path / "ran"
    before = repo_state(repo)
    result = cli.init(f"--tag={tag}", "--run", f"touch {ran}; {sys.executable} train.py")
    assert result.returncode != 0
    assert "tag" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not ran.exists() and repo_state(repo) == before


@pytest.mark.parametrize(
    "flags",
    [("--budget", "inf"), ("--budget", "nan"), ("--timeout", "1e9"), ("--budget", "604801")],
)
def test_a_budget_or_timeout_that_is_not_finite_or_exceeds_a_week_is_refused(
    repo: Path, cli: Cli, flags: tuple[str, str]
) -> None:
    before = repo_state(repo)
    result = cli.init(*flags)
    assert result.returncode != 0
    assert flags[0].lstrip("-") in result.stderr, result.stderr
    assert repo_state(repo) == before


def test_an_agent_timeout_or_max_hours_that_is_not_finite_is_refused(repo: Path, cli: Cli) -> None:
    assert cli.init().returncode == 0
    for flags in (("--agent-timeout", "inf"), ("--max-hours", "nan"), ("--agent-timeout", "1e9")):
        result = cli("loop", "--agent", "tuner", *flags)
        assert result.returncode != 0 and flags[0].lstrip("-") in result.stderr, result.stderr
