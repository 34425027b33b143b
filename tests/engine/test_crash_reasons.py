"""A crash says why: its reason is a ledger cell the record holds, and no view shows a value."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from support import FOREVER, Cli, git, ledger_lines, ledger_rows, write_train

from autoresearch.rules.formatting import NO_VALUE


def test_each_crash_says_why_in_the_ledger_and_every_view(repo: Path, cli: Cli) -> None:
    assert cli.init("--also", "peak_vram_mb", "--timeout", "1").returncode == 0
    write_train(repo, 0.5, EXIT=3)
    assert cli("try", "-m", "exits badly").stdout.startswith("crash")
    write_train(repo, 0.5, SLEEP=FOREVER)
    assert cli("try", "-m", "never ends").stdout.startswith("crash")
    (repo / "train.py").write_text("print('val_bpb: soon')\n")
    assert cli("try", "-m", "prints no number").stdout.startswith("crash")
    header = ledger_lines(repo)[0]
    assert header[-3:] == ["reason", "status", "description"]
    baseline, *crashes = ledger_rows(repo)
    assert baseline["reason"] == ""
    reasons = [row["reason"] for row in crashes]
    assert reasons[:2] == ["exit 3", "timeout after 1 s"]
    assert reasons[2] == "val_bpb: unparsable value 'soon'"
    # The file stays in Karpathy's format: a crash's metric cells are the 0 placeholder.
    assert {float(row[name]) for row in crashes for name in ("val_bpb", "peak_vram_mb")} == {0.0}

    status = cli("status").stdout
    described = ("exits badly", "never ends", "prints no number")
    for reason, description in zip(reasons, described, strict=True):
        assert f"{NO_VALUE}  crash    ({reason}) {description}" in status
    assert "0.000000" not in status
    recent = json.loads(cli("status", "--json").stdout)["recent"]
    assert [(r["value"], r["reason"]) for r in recent[1:]] == [(None, r) for r in reasons]
    assert cli("report", "-o", "report.html").returncode == 0
    page = (repo / "report.html").read_text()
    crash_rows = [part.split("</tr>")[0] for part in page.split('<tr class="crash">')[1:]]
    assert len(crash_rows) == 3 and all("0.000000" not in row for row in crash_rows)
    assert all(f">{escape(r)}<" in row for r, row in zip(reasons, crash_rows, strict=True))
    assert "0.000000" not in cli("report", "--format", "md").stdout


def test_the_record_holds_a_crash_reason_and_puts_it_back(repo: Path, cli: Cli) -> None:
    assert cli.init().returncode == 0
    write_train(repo, 0.5, EXIT=3)
    cli("try", "-m", "exits badly")
    ledger = repo / "results.tsv"
    ledger.write_text(ledger.read_text().replace("\texit 3\t", "\t\t"))
    assert "record:" in cli("status").stdout  # the edit is seen for what it is
    assert cli("repair").returncode == 0, git(repo, "status")
    assert ledger_rows(repo)[-1]["reason"] == "exit 3"
    assert "(exit 3) exits badly" in cli("status").stdout
