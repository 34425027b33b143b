from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import pytest
from report_support import karpathy, ours, png_size

from autoresearch.errors import UserError
from autoresearch.reports.html import render_html
from autoresearch.reports.markdown import render_markdown
from autoresearch.reports.summary import summarize
from autoresearch.store.ledger import parse_lines

DIFF = "--- a/train.py\n+++ b/train.py\n@@ -1,2 +1,2 @@\n-LR = 0.02\n+LR = 0.04  # <b>&</b>\n"


def test_summary_of_our_ledger(tmp_path: Path) -> None:
    summary = summarize(ours(tmp_path), "minimize")
    assert (summary.baseline, summary.best, summary.best_commit) == (1.0, 0.98, "e5f6a7b")
    assert summary.change_pct == pytest.approx(-2.0)
    assert (summary.experiments, summary.keeps, summary.discards, summary.crashes) == (6, 2, 2, 1)
    # Kept changes after the baseline over the five experiments after it, the crash included.
    assert summary.keep_rate == pytest.approx(2 / 5)
    assert summary.wall_seconds == pytest.approx(1530)
    assert summary.experiments_per_hour == pytest.approx(6 / (1530 / 3600))
    assert summary.cost_usd == pytest.approx(1.0)
    changes = summary.kept_changes
    assert [(c.number, c.row.commit) for c in changes] == [(1, "b2c3d4e"), (4, "e5f6a7b")]
    assert [c.gain for c in changes] == pytest.approx([0.01, 0.01])
    assert changes[1].previous_best == pytest.approx(0.99)
    assert changes[0].gain_pct == pytest.approx(1.0)
    headline = dict(summary.headline())
    assert headline["best val_bpb"] == "0.98"
    assert headline["change"] == "-2.00%"
    assert headline["kept changes"] == "2" and headline["keep rate"] == "40%"
    assert headline["run time (summed)"] == "25m30s"
    assert headline["total cost"] == "$1.00"


def test_summary_of_karpathy_ledger(tmp_path: Path) -> None:
    summary = summarize(karpathy(tmp_path), "minimize")
    assert summary.baseline == 0.9979 and summary.best == 0.981773
    assert summary.wall_seconds is None and summary.cost_usd is None
    assert summary.experiments_per_hour is None
    hits = summary.top_hits
    assert [hit.row.commit for hit in hits] == ["bea057b", "7f2a65c"]
    assert hits[0].gain == pytest.approx(0.011859)
    labels = [label for label, _ in summary.headline()]
    assert "wall time" not in labels and "total cost" not in labels


def test_summary_when_maximizing_ranks_by_gain() -> None:
    text = (
        "commit\taccuracy\tstatus\tdescription\n"
        "a\t0.50\tkeep\tbaseline\n"
        "b\t0.55\tkeep\tsmall step\n"
        "c\t0.40\tdiscard\tworse\n"
        "d\t0.70\tkeep\tbig step\n"
        "e\t0.70\tkeep\tsimpler, same accuracy\n"
    )
    summary = summarize(parse_lines(text.splitlines(keepends=True)), "maximize")
    assert summary.best == 0.70 and summary.best_commit == "d"
    assert summary.change_pct == pytest.approx(40.0)
    assert [c.gain for c in summary.kept_changes] == pytest.approx([0.05, 0.15, 0.0])
    assert [hit.row.commit for hit in summary.top_hits] == ["d", "b"]


def test_summary_refuses_an_unknown_direction(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        summarize(ours(tmp_path), "down")


def test_html_report_is_complete_escaped_and_self_contained(tmp_path: Path) -> None:
    extras = {
        "noise estimate": {"spread": 0.0004, "runs": 5},
        "audit": [{"commit": "e5f6a7b", "verdict": "<ok>"}],
        "holdout trend": [0.99, 0.985],
    }
    output = render_html(
        ours(tmp_path), "minimize", tmp_path / "r" / "report.html", {"b2c3d4e": DIFF}, extras
    )
    page = output.read_text(encoding="utf-8")
    for expected in ("val_bpb", "0.98", "-2.00%", "+0.01", "$1.00", "25m30s"):
        assert expected in page
    assert "raise learning rate to 0.04" in page and "pipe | in the description" in page
    assert "<script" not in page
    assert "swap &lt;script&gt;alert(1)&lt;/script&gt; in" in page
    assert "<details>" in page and "+LR = 0.04  # &lt;b&gt;&amp;&lt;/b&gt;" in page
    for heading in ("noise estimate", "audit", "holdout trend"):
        assert f"<h2>{heading}</h2>" in page
    assert "&lt;ok&gt;" in page and "0.0004" in page
    assert not re.search(r"https?://", page)
    assert "<link" not in page and "@import" not in page
    match = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert match and png_size(base64.b64decode(match.group(1)))[0] > 800
    # The full ledger, crash included.
    assert page.count('<tr class="crash">') == 1 and "batch 131K (assert fail)" in page


def test_html_report_of_karpathy_ledger(tmp_path: Path) -> None:
    page = render_html(karpathy(tmp_path), "minimize", tmp_path / "k.html").read_text()
    assert "halve batch 524K to 262K (more steps in 5 min)" in page
    assert "0.98177" in page
    # Without a session there are no diffs, and no column that would only say so.
    assert "no diff" not in page and "<th>diff</th>" not in page


def test_html_report_without_matplotlib_still_renders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = render_html(ours(tmp_path), "minimize", tmp_path / "r.html").read_text()
    assert "No plot: plotting needs matplotlib" in page and "0.98" in page


def test_markdown_for_a_pull_request(tmp_path: Path) -> None:
    text = render_markdown(ours(tmp_path), "minimize", {"e5f6a7b": "+ uses ``` fences\n"})
    assert text.startswith("## autoresearch: val_bpb\n")
    assert "**val_bpb** 1 → **0.98** (-2.00%)" in text
    assert "| # | commit | val_bpb | gain | gain % | description |" in text
    assert "| 1 | `b2c3d4e` | 0.99 | +0.01 | +1.00% | raise learning rate to 0.04 |" in text
    assert "<summary>e5f6a7b: swap &lt;script&gt;alert(1)&lt;/script&gt; in</summary>" in text
    assert "````diff\n+ uses ``` fences\n````" in text
    assert "add 5% warmup" not in text  # discards are not part of the story


def test_markdown_escapes_table_cells() -> None:
    text = (
        "commit\tval_bpb\tstatus\tdescription\n"
        "a\t1.0\tkeep\tbaseline\n"
        "b\t0.9\tkeep\tsplit | cells `here`\n"
    )
    markdown = render_markdown(parse_lines(text.splitlines(keepends=True)), "minimize")
    assert "split \\| cells 'here' |" in markdown


def test_markdown_with_nothing_kept() -> None:
    text = "commit\tval_bpb\tstatus\tdescription\na\t1.0\tkeep\tbaseline\nb\t1.1\tdiscard\tx\n"
    markdown = render_markdown(parse_lines(text.splitlines(keepends=True)), "minimize")
    assert "No change was kept after the baseline." in markdown


@pytest.mark.parametrize(
    ("baseline", "shown"),
    [
        ("12345.678", "12346"),
        ("3.5", "3.5"),
        ("0.00012", "0.00012"),
        ("0.0001234567", "0.00012346"),
    ],
)
def test_values_keep_five_significant_digits(baseline: str, shown: str) -> None:
    text = f"commit\tmetric\tstatus\tdescription\na\t{baseline}\tkeep\tbaseline\n"
    summary = summarize(parse_lines(text.splitlines(keepends=True)), "maximize")
    assert summary.value_text(summary.baseline) == shown
