"""A metric may be called like a ledger column (``seconds``, ``tokens``) and is shown as itself."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support import Cli, git, ledger_lines

from autoresearch.reports.plot import _draw, title
from autoresearch.reports.summary import summarize
from autoresearch.store.ledger import read_ledger

BENCH = """\
SECONDS = {seconds}
print(f"seconds: {{SECONDS}}")
print("tokens: 512")
print("runs: 3")
"""


def bench_repo(tmp_path: Path, seconds: float = 0.0276) -> Path:
    repo = tmp_path / "bench"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "test@example.com")
    git(repo, "config", "user.name", "Test")
    (repo / "bench.py").write_text(BENCH.format(seconds=seconds))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    return repo


def init(cli: Cli, *extra: str) -> object:
    return cli(
        "init", "--tag", "b", "--run", f"{sys.executable} bench.py", "--noise", "off", *extra
    )


def test_metrics_named_seconds_tokens_and_runs_are_recorded_and_shown_as_themselves(
    tmp_path: Path,
) -> None:
    repo = bench_repo(tmp_path)
    cli = Cli(repo)
    result = init(cli, "--metric", "seconds", "--also", "tokens", "--also", "runs")
    assert result.returncode == 0, result.stderr
    (repo / "bench.py").write_text(BENCH.format(seconds=0.0181))
    assert cli("try", "-m", "faster").stdout.startswith("keep")
    header, baseline, faster = ledger_lines(repo)
    cells = [dict(zip(header, row, strict=True)) for row in (baseline, faster)]
    assert header[:4] == ["commit", "seconds", "tokens", "runs"]
    assert [row["seconds"] for row in cells] == ["0.027600", "0.018100"]
    assert [row["tokens"] for row in cells] == ["512.000000", "512.000000"]
    assert [row["runs"] for row in cells] == ["3.000000", "3.000000"]
    assert [row["run_count"] for row in cells] == ["1", "1"]  # the tool's count of runs
    assert all(row["wall_seconds"] and row["status"] == "keep" for row in cells)

    status = json.loads(cli("status", "--json").stdout)
    assert (status["metric"], status["baseline"], status["best"]) == ("seconds", 0.0276, 0.0181)
    report = cli("report", "--format", "md").stdout
    assert "**seconds** 0.0276 → **0.0181**" in report
    book = read_ledger(repo / "results.tsv")
    wall = sum(float(row["wall_seconds"]) for row in cells)
    assert summarize(book, "minimize").wall_seconds == pytest.approx(wall)
    figure = _draw(book, "minimize", None)
    axes = figure.axes[0]
    assert figure._suptitle.get_text() == title("seconds", summarize(book, "minimize"))
    assert figure._suptitle.get_text().startswith("seconds: 2 experiments")
    plotted = {round(y, 4) for line in axes.get_lines() for y in line.get_ydata()}
    assert {0.0276, 0.0181} <= plotted
    finalized = cli("finalize")
    assert finalized.returncode == 0, finalized.stderr
    assert "0.0276" in finalized.stdout and "0.0181" in finalized.stdout


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--metric", "seconds", "--also", "status"], "'status' is a column every ledger has"),
        (["--metric", "commit"], "'commit' is a column every ledger has"),
        (["--metric", "seconds", "--also", "reason"], "is the ledger's column of a crash's"),
        (["--metric", "worker"], "'worker' is a column of sessions with parallel runs"),
        (["--metric", "seconds", "--also", "wall_seconds"], "leave no name"),
        (["--metric", "seconds", "--also", "seconds"], "named twice"),
    ],
)
def test_a_metric_name_that_cannot_be_told_apart_is_refused_at_init(
    tmp_path: Path, flags: list[str], reason: str
) -> None:
    repo = bench_repo(tmp_path)
    result = init(Cli(repo), *flags)
    assert result.returncode == 2
    assert reason in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert git(repo, "branch", "--list") == "* main"
    assert not (repo / ".autoresearch").exists() and not (repo / "results.tsv").exists()
