"""One verdict on an audit and no value for a crash, in every view of a session."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_support import ours
from support import Cli, git

from autoresearch.reports.dashboard import Dashboard
from autoresearch.reports.html import render_html
from autoresearch.reports.status import status_of
from autoresearch.reports.summary import shown_cells
from autoresearch.reports.terminal import status_lines
from autoresearch.rules.formatting import NO_VALUE
from autoresearch.store.files import SessionFiles
from autoresearch.store.ledger import parse_lines

NOT_CONFIRMED = "not confirmed: the interval includes 0"
# B's change is lost in the noise: the plain rule keeps it on one lucky run (the seeds a
# session gives its runs are fixed), and the audit's re-runs cannot tell it from 0.
NOISY_TRAIN = """\
import os, random
B = {b}
rng = random.Random(int(os.environ.get("AUTORESEARCH_SEED", "0")))
print(f"val_bpb: {{1.0 - B + rng.gauss(0, 0.01):.6f}}")
"""


@pytest.fixture
def unconfirmed(repo: Path, cli: Cli) -> Cli:
    """A session whose one keep the audit does not confirm: its interval holds 0."""
    (repo / "train.py").write_text(NOISY_TRAIN.format(b=0.0))
    git(repo, "commit", "-qam", "noisy")
    assert cli.init("--noise", "off").returncode == 0
    (repo / "train.py").write_text(NOISY_TRAIN.format(b=0.0005))
    assert cli("try", "-m", "B tiny").stdout.startswith("keep")
    audit = cli("audit", "--runs", "4")
    assert audit.returncode == 0, audit.stderr
    assert f"- {NOT_CONFIRMED} (improvement " in audit.stdout
    assert "confirmed improvement" not in audit.stdout and "of the claim" not in audit.stdout
    return cli


def test_an_audit_that_holds_zero_says_not_confirmed_on_every_surface(
    repo: Path, unconfirmed: Cli
) -> None:
    markdown_audit = (repo / "audit.md").read_text()
    assert f"- {NOT_CONFIRMED} (improvement " in markdown_audit

    html = unconfirmed("report", "-o", "report.html")
    assert html.returncode == 0, html.stderr
    page = (repo / "report.html").read_text()
    assert f'<div class="label">audit</div><div class="value">{NOT_CONFIRMED} (' in page
    assert f"<td>{NOT_CONFIRMED}</td>" in page  # the audit's own section, never empty

    markdown = unconfirmed("report", "--format", "md")
    assert f"| audit | {NOT_CONFIRMED} (improvement " in markdown.stdout
    assert f"- verdict: {NOT_CONFIRMED}" in markdown.stdout

    status = unconfirmed("status")
    assert f"\naudit: {NOT_CONFIRMED} (improvement " in status.stdout
    assert unconfirmed("status", "--json").stdout.count(f'"audit": "{NOT_CONFIRMED} (') == 1

    state = Dashboard(SessionFiles(str(repo), "t"), "minimize").state()
    assert state["audit"].startswith(f"{NOT_CONFIRMED} (improvement ")

    final = unconfirmed("finalize")
    assert final.returncode == 0, final.stderr
    headline = final.stdout.splitlines()[1]
    # The measured change stays in the headline; beside it, that the audit did not bear it out.
    assert re.fullmatch(
        rf"val_bpb \S+ -> \S+ \(-\S+%\) in 1 kept change; audit: {NOT_CONFIRMED}", headline
    )
    summary = (repo / ".autoresearch/t/final-summary.md").read_text()
    assert summary.startswith(f"## autoresearch t: {headline}\n")
    assert f": {NOT_CONFIRMED} (improvement " in summary
    surfaces = (markdown_audit, page, markdown.stdout, status.stdout, state["audit"])
    for shown in (*surfaces, final.stdout, summary):
        assert "confirmed improvement" not in shown and "confirm an improvement" not in shown


def test_a_headline_carries_no_verdict_of_an_audit_of_an_earlier_best(
    repo: Path, unconfirmed: Cli
) -> None:
    (repo / "train.py").write_text(NOISY_TRAIN.format(b=0.1))
    assert unconfirmed("try", "-m", "B large").stdout.startswith("keep")
    assert "audit:" not in unconfirmed("status").stdout
    earlier = "of an earlier best "
    card = unconfirmed("report", "--format", "md").stdout
    assert f"| audit | {earlier}" in card and "(the keep ref is now " in card
    assert Dashboard(SessionFiles(str(repo), "t"), "minimize").state()["audit"].startswith(earlier)
    final = unconfirmed("finalize")
    assert final.returncode == 0, final.stderr
    assert final.stdout.splitlines()[1].endswith("in 2 kept changes")


def test_a_crash_shows_no_value_and_its_reason_where_the_ledger_has_it(tmp_path: Path) -> None:
    text = (
        "commit\tparse_us\ttests_run\tstatus\treason\tdescription\n"
        "a1b2c3d\t466.590000\t112.000000\tkeep\t\tbaseline\n"
        "b2c3d4e\t0.000000\t0.000000\tcrash\ttimeout after 20 s\tunroll the loop\n"
    )
    ledger = parse_lines(text.splitlines(keepends=True))
    crash = shown_cells(ledger, ledger.rows[1])
    assert crash["parse_us"] == NO_VALUE and crash["tests_run"] == NO_VALUE
    assert shown_cells(ledger, ledger.rows[0])["parse_us"] == "466.59"
    shown = "\n".join(status_lines(status_of(ledger, "minimize")))
    assert "0.000000" not in shown and NO_VALUE in shown
    assert "(timeout after 20 s) unroll the loop" in shown


def test_reports_of_a_ledger_show_no_zero_for_its_crash(tmp_path: Path) -> None:
    page = render_html(ours(tmp_path), "minimize", tmp_path / "r.html").read_text()
    crash_row = page[page.index('<tr class="crash">') :].split("</tr>")[0]
    assert "0.000000" not in crash_row and NO_VALUE in crash_row
    files = SessionFiles(str(tmp_path), "t")
    Path(files.ledger).parent.mkdir(parents=True, exist_ok=True)
    Path(files.ledger).write_text((tmp_path / "results.tsv").read_text())
    rows = Dashboard(files, "minimize").state()["rows"]
    crash = next(row for row in rows if "crash" in row)
    assert "0.000000" not in crash and crash[1] == NO_VALUE
