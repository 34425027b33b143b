"""One verdict on an audit and no value for a crash, in every view of a session."""

from __future__ import annotations

import json
from pathlib import Path

from report_support import ours

from autoresearch.history.audit import AuditResult, report_lines
from autoresearch.reports.audit_note import AUDIT, audit_line, audit_verdict, latest_audit
from autoresearch.reports.dashboard import Dashboard
from autoresearch.reports.html import render_html
from autoresearch.reports.status import status_of
from autoresearch.reports.summary import shown_cells
from autoresearch.reports.terminal import status_lines
from autoresearch.rules.formatting import NO_VALUE
from autoresearch.store.files import SessionFiles
from autoresearch.store.ledger import parse_lines

NOT_CONFIRMED = "not confirmed: the interval includes 0"
# What a real audit gave: the interval holds 0, the ledger claimed a gain.
UNCONFIRMED = AuditResult(
    metric="parse_us",
    direction="minimize",
    baseline_commit="a" * 40,
    best_commit="b" * 40,
    claimed=76.2,
    baseline_runs=(450.0, 460.0),
    best_runs=(480.0, 500.0),
    confirmed=-36.4861,
    low=-150.3912345,
    high=77.4234567,
)


def session_files(tmp_path: Path) -> SessionFiles:
    files = SessionFiles(str(tmp_path), "t")
    Path(files.audits).mkdir(parents=True)
    audit = Path(files.audits) / "audit-20250101-000000.json"
    audit.write_text(json.dumps(UNCONFIRMED.to_json()))
    return files


def test_audit_that_holds_zero_says_not_confirmed_everywhere(tmp_path: Path) -> None:
    lines = "\n".join(report_lines(UNCONFIRMED))
    assert NOT_CONFIRMED in lines and "confirmed improvement" not in lines
    assert "[-150.39, 77.42]" in lines and "of the claim" not in lines
    files = session_files(tmp_path)
    audit = latest_audit(files)
    assert audit is not None
    assert audit_verdict(audit) is not None and audit_verdict(audit).startswith(NOT_CONFIRMED)
    line = audit_line(audit)  # the final summary's sentence
    assert NOT_CONFIRMED in line and "confirm an improvement" not in line
    page = render_html(ours(tmp_path), "minimize", tmp_path / "r.html", extras={AUDIT: audit})
    card = '<div class="label">audit</div><div class="value">' + NOT_CONFIRMED
    assert card in page.read_text()
    assert Dashboard(files, "minimize").state()["audit"].startswith(NOT_CONFIRMED)


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
