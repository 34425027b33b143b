"""plot, report, dashboard and finalize on real sessions and on ledger files."""

from __future__ import annotations

import json
import re
import signal
import sys
import urllib.request
from pathlib import Path

import pytest
from report_support import KARPATHY_TEXT, png_size
from support import EVENT_DEADLINE, Cli, git, write_train


def try_value(cli: Cli, repo: Path, value: float, message: str, **changes: object) -> str:
    write_train(repo, value, **changes)
    result = cli("try", "-m", message)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()[0]


@pytest.fixture
def session(repo: Path, cli: Cli) -> Cli:
    """Baseline 1.0, then: keep 0.9, discard 1.5, crash, its fix kept at 0.8, keep 0.7."""
    assert cli.init("--noise", "off").returncode == 0
    assert try_value(cli, repo, 0.9, "lower to 0.9") == "keep"
    assert try_value(cli, repo, 1.5, "worse") == "discard"
    assert try_value(cli, repo, 0.8, "exits early", EXIT=1) == "crash"
    assert try_value(cli, repo, 0.8, "fix the exit") == "keep"
    assert try_value(cli, repo, 0.7, "down to 0.7") == "keep"
    return cli


def kept_commits(repo: Path) -> list[str]:
    """The kept commits of the ledger after the baseline, as full hashes."""
    rows = [line.split("\t") for line in (repo / "results.tsv").read_text().splitlines()[1:]]
    return [git(repo, "rev-parse", row[0]) for row in rows if row[-2] == "keep"][1:]


def snapshot(repo: Path) -> dict[str, str]:
    """What finalize must leave alone: every ref, HEAD, and the working tree's state."""
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(repo, "symbolic-ref", "HEAD") + " " + git(repo, "rev-parse", "HEAD"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all"),
        "train": (repo / "train.py").read_text(),
    }


# ----- plot and report ---------------------------------------------------------------------


def test_plot_of_a_session_is_a_png_kept_out_of_git(repo: Path, session: Cli) -> None:
    result = session("plot")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "progress.png"
    assert png_size((repo / "progress.png").read_bytes())[0] > 500
    assert git(repo, "status", "--porcelain") == ""


def test_plot_and_report_of_a_karpathy_ledger_need_no_session(tmp_path: Path) -> None:
    ledger = tmp_path / "results.tsv"
    ledger.write_text(KARPATHY_TEXT)
    cli = Cli(tmp_path)
    plot = cli("plot", "--results", "results.tsv", "-o", "out/p.png")
    assert plot.returncode == 0, plot.stderr
    assert png_size((tmp_path / "out/p.png").read_bytes())
    markdown = cli("report", "--results", "results.tsv", "--format", "md")
    assert markdown.returncode == 0, markdown.stderr
    assert "**val_bpb** 0.9979 → **0.98177**" in markdown.stdout
    assert "| `7f2a65c` | 0.98177 |" in markdown.stdout
    html = cli("report", "--results", "results.tsv", "--direction", "min")
    assert html.returncode == 0 and html.stdout.strip() == "report.html"
    assert "halve batch 524K to 262K" in (tmp_path / "report.html").read_text()


def test_plot_refuses_what_is_not_a_ledger(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    cli = Cli(tmp_path)
    result = cli("plot", "--results", "notes.txt")
    assert result.returncode == 2 and "not a ledger" in result.stderr
    assert cli("report", "--results", "missing.tsv").returncode == 2
    assert not (tmp_path / "progress.png").exists()


def test_html_report_of_a_session_has_the_kept_diffs_and_the_extras(
    repo: Path, session: Cli
) -> None:
    result = session("report")
    assert result.returncode == 0, result.stderr
    page = (repo / "report.html").read_text()
    # Each keep against the keep it builds on: the fix is shown against 0.9, not the crash.
    assert '<span class="del">-VALUE = 0.9</span>' in page
    assert '<span class="add">+VALUE = 0.8</span>' in page
    assert "EXIT = 1" not in page
    assert "Noise estimate" in page and "Latest audit" not in page
    assert git(repo, "status", "--porcelain") == ""


def test_markdown_report_of_a_session_goes_to_stdout_with_the_latest_audit(
    repo: Path, session: Cli
) -> None:
    audits = repo / ".autoresearch/t/audits"
    audits.mkdir(parents=True)
    audit = {
        "metric": "val_bpb",
        "direction": "minimize",
        "baseline_commit": "a" * 40,
        "best_commit": git(repo, "rev-parse", "refs/autoresearch/t/keep"),  # the keep ref's
        "claimed": 0.3,
        "baseline_runs": [1.0, 1.0],
        "best_runs": [0.7, 0.72],
        "confirmed": 0.29,
        "low": 0.27,
        "high": 0.31,
        "crashes": 0,
        "keeps": [],
    }
    (audits / "audit-20240101-000000.json").write_text(json.dumps({**audit, "confirmed": 0.1}))
    (audits / "audit-20240102-000000.json").write_text(json.dumps(audit))
    result = session("report", "--format", "md")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "### Kept changes (3)" in text and "+VALUE = 0.7" in text
    assert "### Latest audit" in text
    assert "| audit | confirmed: improvement +0.29, 95% CI [0.27, 0.31] |" in text
    assert "- verdict: confirmed\n- re-runs: improvement +0.29, 95% CI [0.27, 0.31]" in text
    assert "audit-20240102-000000.json" in text and "### Noise estimate" in text
    assert not (repo / "report.html").exists()
    written = session("report", "--format", "md", "-o", "out/report.md")
    assert written.stdout.strip() == "out/report.md"
    assert (repo / "out/report.md").read_text() == text


def test_report_shows_the_holdout_trend_of_a_session_with_a_holdout(repo: Path, cli: Cli) -> None:
    (repo / "holdout.py").write_text("print('val_bpb: 2.5')\n")
    git(repo, "add", "holdout.py")
    git(repo, "commit", "-qm", "holdout")
    assert cli.init("--noise", "off", "--holdout", f"{sys.executable} holdout.py").returncode == 0
    assert try_value(cli, repo, 0.9, "lower") == "keep"
    text = cli("report", "--format", "md").stdout
    assert "### Holdout trend" in text and "- column: holdout_val_bpb" in text
    assert "- trend: 2.5, 2.5" in text


# ----- dashboard -----------------------------------------------------------------------------


def test_dashboard_serves_the_session_until_ctrl_c(repo: Path, session: Cli) -> None:
    process = session.popen("dashboard", "--port", "0")
    try:
        line = process.read_until("Ctrl-C stops it")
        match = re.search(r"(http://\S+/)", line)
        assert match, line
        with urllib.request.urlopen(
            match.group(1) + "api/state", timeout=EVENT_DEADLINE
        ) as response:
            state = json.loads(response.read())
        assert state["metric"] == "val_bpb" and state["rows_total"] == 6
        assert state["summary"]["best"] == 0.7
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=EVENT_DEADLINE) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert git(repo, "status", "--porcelain") == ""


# ----- finalize ------------------------------------------------------------------------------


def test_finalize_makes_one_commit_per_keep_with_its_tree(repo: Path, session: Cli) -> None:
    start = git(repo, "rev-parse", "main")
    before = snapshot(repo)
    result = session("finalize")
    assert result.returncode == 0, result.stderr
    assert "val_bpb 1 -> 0.7 (-30.00%) in 3 kept changes" in result.stdout
    final = "autoresearch/t-final"
    commits = git(repo, "rev-list", "--reverse", f"{start}..{final}").split()
    assert len(commits) == 3
    assert git(repo, "rev-parse", f"{commits[0]}^") == start
    trees = [git(repo, "rev-parse", f"{commit}^{{tree}}") for commit in commits]
    assert trees == [git(repo, "rev-parse", f"{kept}^{{tree}}") for kept in kept_commits(repo)]
    messages = [git(repo, "log", "-1", "--format=%B", c) for c in commits]
    assert messages[0].startswith("lower to 0.9\n\nval_bpb 1 -> 0.9 (-10.00%)")
    assert messages[1].startswith("fix the exit\n\nval_bpb 0.9 -> 0.8 (-11.11%)")
    assert messages[2].startswith("down to 0.7\n\nval_bpb 0.8 -> 0.7 (-12.50%)")
    after = snapshot(repo)
    assert after["refs"].replace(f"refs/heads/{final} {commits[-1]}\n", "") == before["refs"]
    assert {k: v for k, v in after.items() if k != "refs"} == {
        k: v for k, v in before.items() if k != "refs"
    }
    summary = (repo / ".autoresearch/t/final-summary.md").read_text()
    assert summary.startswith("## autoresearch t: val_bpb 1 -> 0.7 (-30.00%) in 3 kept changes")
    assert f"| 2 | `{commits[1][:7]}` | 0.8 | -11.11% | fix the exit |" in summary


def test_finalize_squash_makes_one_commit_listing_every_keep(repo: Path, session: Cli) -> None:
    start = git(repo, "rev-parse", "main")
    result = session("finalize", "--squash")
    assert result.returncode == 0, result.stderr
    commits = git(repo, "rev-list", f"{start}..autoresearch/t-final").split()
    assert len(commits) == 1
    assert git(repo, "rev-parse", "autoresearch/t-final^{tree}") == git(
        repo, "rev-parse", "refs/autoresearch/t/keep^{tree}"
    )
    message = git(repo, "log", "-1", "--format=%B", commits[0])
    assert message.startswith("autoresearch t: val_bpb 1 -> 0.7 (-30.00%) in 3 kept changes")
    assert "- fix the exit (val_bpb 0.9 -> 0.8 (-11.11%))" in message


def test_finalize_refuses_an_existing_final_branch(repo: Path, session: Cli) -> None:
    assert session("finalize").returncode == 0
    tip = git(repo, "rev-parse", "autoresearch/t-final")
    again = session("finalize", "--squash")
    assert again.returncode == 2 and "up to date" in again.stderr
    assert "git branch -D autoresearch/t-final" in again.stderr
    assert try_value(session, repo, 0.6, "down to 0.6") == "keep"
    moved = session("finalize")
    assert moved.returncode == 2 and "has moved" in moved.stderr
    assert git(repo, "rev-parse", "autoresearch/t-final") == tip


def test_finalize_refuses_when_nothing_was_kept(repo: Path, cli: Cli) -> None:
    assert cli.init("--noise", "off").returncode == 0
    assert try_value(cli, repo, 1.5, "worse") == "discard"
    result = cli("finalize")
    assert result.returncode == 2 and "nothing to finalize" in result.stderr
    assert "t-final" not in git(repo, "branch", "--list")
    assert not (repo / ".autoresearch/t/final-summary.md").exists()


def test_finalize_after_a_rewind_holds_only_what_the_keep_ref_carries(repo: Path, cli: Cli) -> None:
    assert cli.init("--noise", "off").returncode == 0
    assert try_value(cli, repo, 0.9, "first") == "keep"
    first = git(repo, "rev-parse", "HEAD")
    assert try_value(cli, repo, 0.8, "abandoned by the rewind") == "keep"
    assert cli("rewind", first).returncode == 0
    assert try_value(cli, repo, 0.85, "another way") == "keep"
    result = cli("finalize")
    assert result.returncode == 0, result.stderr
    messages = git(repo, "log", "--format=%s", "main..autoresearch/t-final").splitlines()
    assert messages == ["another way", "first"]
    body = git(repo, "log", "-1", "--format=%B", "autoresearch/t-final")
    assert "val_bpb 0.9 -> 0.85 (-5.56%)" in body


# ----- one summary -----------------------------------------------------------------------------


def test_status_report_dashboard_and_plot_show_the_same_figures(repo: Path, session: Cli) -> None:
    """Six experiments: the baseline, 3 kept changes, 1 discard, 1 crash; keep rate 3 of 5."""
    from autoresearch.reports.plot import _draw
    from autoresearch.store.ledger import read_ledger

    data = json.loads(session("status", "--json").stdout)
    counts = (data["experiments"], data["keeps"], data["discards"], data["crashes"])
    assert counts == (6, 3, 1, 1) and data["keep_rate"] == 0.6
    assert (data["best"], data["change_percent"]) == (0.7, pytest.approx(-30.0))
    # Six experiments in less than ten minutes: no rate per hour yet, anywhere.
    assert data["experiments_per_hour"] is None
    status = session("status").stdout
    assert "6 experiments: baseline, 3 kept, 1 discarded, 1 crashed · keep rate 60%" in status
    assert "/hour" not in status
    assert "best 0.7 (" in status and "-30.00%" in status

    headline = {
        "best val_bpb": "0.7",
        "change": "-30.00%",
        "experiments": "6",
        "kept changes": "3",
        "discarded": "1",
        "crashed": "1",
        "keep rate": "60%",
    }
    markdown = session("report", "--format", "md").stdout
    for label, value in headline.items():
        assert f"| {label} | {value} |" in markdown
    assert "### Kept changes (3)" in markdown
    assert session("report").returncode == 0
    page = (repo / "report.html").read_text()
    for label, value in headline.items():
        assert f'<div class="label">{label}</div><div class="value">{value}</div>' in page
    assert "<h2>Kept changes (3)</h2>" in page

    process = session.popen("dashboard", "--port", "0")
    try:
        match = re.search(r"(http://\S+/)", process.read_until("Ctrl-C stops it"))
        assert match
        with urllib.request.urlopen(
            match.group(1) + "api/state", timeout=EVENT_DEADLINE
        ) as response:
            shown = dict(json.loads(response.read())["summary"]["headline"])
    finally:
        process.kill()
        process.wait()
    assert {label: shown[label] for label in headline} == headline

    figure = _draw(read_ledger(repo / "results.tsv"), "minimize", None)
    assert figure._suptitle.get_text() == (
        "val_bpb: 6 experiments, 3 kept changes, keep rate 60%, best 0.7 (-30.00%)"
    )


def test_html_report_leaves_out_columns_no_row_fills(tmp_path: Path) -> None:
    from autoresearch.reports.html import render_html
    from autoresearch.store.ledger import read_ledger

    path = tmp_path / "results.tsv"
    path.write_text(
        "commit\tval_bpb\truns\tspread\tseconds\ttokens\tcost_usd\tstatus\tdescription\n"
        "a1b2c3d\t1.0\t1\t\t300.0\t\t\tkeep\tbaseline\n"
        "b2c3d4e\t0.9\t1\t\t301.0\t\t\tkeep\tlower\n"
    )
    page = render_html(read_ledger(path), "minimize", tmp_path / "r.html").read_text()
    table = page[page.index("Full ledger") :]
    assert "<th>seconds</th>" in table and "<th>runs</th>" in table
    for empty in ("spread", "tokens", "cost_usd"):
        assert f"<th>{empty}</th>" not in table
