"""The HTML report: one self-contained file that opens anywhere, offline.

Everything the ledger or the caller provides is escaped; the plot is embedded as a base64 PNG;
the styling is inline and there is no script at all.
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path

from autoresearch.errors import UserError
from autoresearch.reports.audit_note import card_verdict
from autoresearch.reports.plot import plot_png
from autoresearch.reports.summary import (
    TOP_HITS,
    Chapter,
    KeptChange,
    SessionFacts,
    Summary,
    continues_note,
    diff_for,
    harness_changed,
    shown_cells,
    summarize,
)
from autoresearch.rules import formatting
from autoresearch.rules.columns import REASON_COLUMN
from autoresearch.store.ledger import Ledger

# Shared with the live dashboard, so a report and the dashboard look like one tool.
BASE_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       color: #1d2330; background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #dde1e7; padding-bottom: 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 8px 14px;
        min-width: 120px; }
.card .label { color: #5b6472; font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
img.plot { width: 100%; background: #fff; border: 1px solid #dde1e7; border-radius: 6px; }
.scroll { max-height: 640px; overflow: auto; border: 1px solid #dde1e7; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: 13px; }
th, td { border: 1px solid #e3e6eb; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.commit { font-family: ui-monospace, monospace; white-space: nowrap; }
tr.keep td { background: #eefaf1; }
tr.crash td { color: #a33; }
tr.discard td { color: #5b6472; }
.marker { margin: 28px 0; padding: 10px 14px; border-left: 6px solid #e67e22;
          background: #fff6ec; font-weight: 600; }
"""

REPORT_STYLE = """
.sub { color: #5b6472; margin: 0 0 16px; }
.good { color: #1a7a3a; }
.bad { color: #a33; }
details summary { cursor: pointer; color: #2a5db0; }
pre.diff { background: #fbfbfc; border: 1px solid #e3e6eb; padding: 8px; overflow-x: auto;
           font-size: 12px; max-height: 480px; }
pre.diff .add { color: #1a7a3a; } pre.diff .del { color: #a33; } pre.diff .hunk { color: #6b4fa8; }
table.kv { width: auto; min-width: 320px; }
.note { color: #5b6472; font-style: italic; }
"""

# Extras are caller-defined; nesting beyond this is shown as text rather than more tables.
MAX_EXTRA_DEPTH = 4


def build_html(
    ledger: Ledger,
    summary: Summary,
    diffs: Mapping[str, str],
    extras: Mapping[str, object],
    facts: SessionFacts | None = None,
) -> str:
    facts = facts or SessionFacts()
    metric = escape(summary.metric)
    source = escape(os.path.basename(ledger.path)) if ledger.path else "ledger"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>autoresearch report: {metric}</title>",
        f"<style>{BASE_STYLE}{REPORT_STYLE}</style></head><body><main>",
        f"<h1>autoresearch report: {metric}</h1>",
        f'<p class="sub">{source}, {escape(summary.direction)} {metric}</p>',
        _continues_note(facts),
        _cards(summary, extras),
        _problems(ledger),
        f"<h2>Progress of {metric}</h2>",
        _plot(ledger, summary, facts),
        *(_extra_section(str(name), value) for name, value in extras.items()),
        *_earlier_sessions(facts),
        _kept_changes(summary, diffs),
        _top_hits(summary),
        _ledger_table(ledger),
        "</main></body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _continues_note(facts: SessionFacts) -> str:
    note = continues_note(facts)
    return f'<p class="marker">{escape(note)}</p>' if note else ""


def _earlier_sessions(facts: SessionFacts) -> list[str]:
    """Each earlier session's headline, kept changes and ledger, oldest first, each followed
    by the marker of the change that ended it."""
    parts = []
    for chapter, successor in facts.handovers():
        parts += _chapter(chapter)
        parts.append(f'<p class="marker">{escape(harness_changed(successor))}</p>')
    return parts


def _chapter(chapter: Chapter) -> list[str]:
    summary = summarize(chapter.ledger, chapter.direction)
    heading = f"Session {escape(chapter.tag)}, before the harness changed"
    return [
        f"<h2>{heading}</h2>",
        _cards(summary, {}),
        _kept_changes(summary, {}),
        _ledger_table(chapter.ledger, f"Ledger of session {chapter.tag}"),
    ]


def _cards(summary: Summary, extras: Mapping[str, object]) -> str:
    headline = summary.headline()
    verdict = card_verdict(extras)
    if verdict is not None:  # beside the claimed change, whether the re-runs bear it out
        headline.append(("audit", verdict))
    cards = [
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div></div>'
        for label, value in headline
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _problems(ledger: Ledger) -> str:
    if not ledger.problems:
        return ""
    items = "".join(f"<li>{escape(problem)}</li>" for problem in ledger.problems)
    return f"<h2>Lines skipped while reading the ledger</h2><ul>{items}</ul>"


def _plot(ledger: Ledger, summary: Summary, facts: SessionFacts) -> str:
    try:
        png = plot_png(ledger, summary.direction, facts=facts)
    except UserError as error:
        return f'<p class="note">No plot: {escape(str(error))}</p>'
    encoded = base64.b64encode(png).decode("ascii")
    alt = f"{summary.metric} over {summary.experiments} experiments"
    return f'<img class="plot" alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def _gain_cell(summary: Summary, change: KeptChange) -> str:
    tone = "good" if change.gain > 0 else "bad" if change.gain < 0 else ""
    return (
        f'<td class="num {tone}">{escape(summary.gain_text(change.gain))}</td>'
        f'<td class="num {tone}">{escape(formatting.percent(change.gain_pct))}</td>'
    )


def _diff_block(text: str | None) -> str:
    if not text:
        return '<span class="note">no diff</span>'
    lines = text.splitlines()
    rendered = []
    for line in lines:
        kind = ""
        if line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+") and not line.startswith("+++"):
            kind = "add"
        elif line.startswith("-") and not line.startswith("---"):
            kind = "del"
        body = escape(line)
        rendered.append(f'<span class="{kind}">{body}</span>' if kind else body)
    return (
        f"<details><summary>diff ({len(lines)} lines)</summary>"
        f'<pre class="diff">{chr(10).join(rendered)}</pre></details>'
    )


def _kept_changes(summary: Summary, diffs: Mapping[str, str]) -> str:
    metric = escape(summary.metric)
    heading = f"<h2>Kept changes ({len(summary.kept_changes)})</h2>"
    if not summary.kept_changes:
        return heading + '<p class="note">No change was kept after the baseline.</p>'
    found = {change.number: diff_for(diffs, change.row.commit) for change in summary.kept_changes}
    # A ledger read without its session has no diffs: no column of "no diff" then.
    any_diff = any(found.values())
    rows = [
        f'<tr><td class="num">{change.number}</td>'
        f'<td class="commit">{escape(change.row.commit)}</td>'
        f'<td class="num">{escape(summary.value_text(change.row.value))}</td>'
        f"{_gain_cell(summary, change)}"
        f"<td>{escape(change.row.description)}</td>"
        + (f"<td>{_diff_block(found[change.number])}</td>" if any_diff else "")
        + "</tr>"
        for change in summary.kept_changes
    ]
    header = (
        f"<tr><th>#</th><th>commit</th><th>{metric}</th><th>gain</th><th>gain %</th>"
        "<th>description</th>" + ("<th>diff</th>" if any_diff else "") + "</tr>"
    )
    return f"{heading}<table>{header}{''.join(rows)}</table>"


def _top_hits(summary: Summary) -> str:
    hits = summary.top_hits[:TOP_HITS]
    if not hits:
        return ""
    metric = escape(summary.metric)
    rows = [
        f'<tr><td class="num">{rank}</td>{_gain_cell(summary, change)}'
        f'<td class="num">{escape(summary.value_text(change.row.value))}</td>'
        f'<td class="commit">{escape(change.row.commit)}</td>'
        f"<td>{escape(change.row.description)}</td></tr>"
        for rank, change in enumerate(hits, start=1)
    ]
    header = (
        f"<tr><th>rank</th><th>gain</th><th>gain %</th><th>{metric}</th><th>commit</th>"
        "<th>description</th></tr>"
    )
    return f"<h2>Top hits by gain in {metric}</h2><table>{header}{''.join(rows)}</table>"


def _ledger_table(ledger: Ledger, title: str = "Full ledger") -> str:
    # A column no row fills (no agent reported tokens, no holdout) says nothing.
    columns = [
        column
        for column in ledger.columns
        if not ledger.rows or any(row.values.get(column, "").strip() for row in ledger.rows)
    ]
    numeric = set(columns[1:]) - {"status", "description", REASON_COLUMN}
    header = "<tr><th>#</th>" + "".join(f"<th>{escape(c)}</th>" for c in columns) + "</tr>"
    rows = []
    for number, row in enumerate(ledger.rows):
        shown = shown_cells(ledger, row)
        cells = []
        for column in columns:
            css = "commit" if column == "commit" else "num" if column in numeric else ""
            cells.append(f'<td class="{css}">{escape(shown.get(column, ""))}</td>')
        status = escape(row.status)
        rows.append(f'<tr class="{status}"><td class="num">{number}</td>{"".join(cells)}</tr>')
    return (
        f"<h2>{escape(title)} ({len(ledger.rows)} rows)</h2>"
        f'<div class="scroll"><table>{header}{"".join(rows)}</table></div>'
    )


def _extra_section(name: str, value: object) -> str:
    return f"<h2>{escape(name)}</h2>{_extra_value(value, 0)}"


def _scalar(value: object) -> str:
    if isinstance(value, float):
        return escape(formatting.value(value) if math.isfinite(value) else str(value))
    return escape("" if value is None else str(value))


def _extra_value(value: object, depth: int) -> str:
    if depth >= MAX_EXTRA_DEPTH:
        return f"<code>{escape(repr(value))}</code>"
    if isinstance(value, Mapping):
        rows = "".join(
            f"<tr><th>{escape(str(key))}</th><td>{_extra_value(item, depth + 1)}</td></tr>"
            for key, item in value.items()
        )
        return f'<table class="kv">{rows}</table>'
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if value and all(isinstance(item, Mapping) for item in value):
            return _records_table(value, depth)
        items = "".join(f"<li>{_extra_value(item, depth + 1)}</li>" for item in value)
        return f"<ul>{items}</ul>"
    return _scalar(value)


def _records_table(records: Sequence[Mapping[str, object]], depth: int) -> str:
    by_name = [{str(key): item for key, item in record.items()} for record in records]
    keys: list[str] = []
    for record in by_name:
        keys += [key for key in record if key not in keys]
    header = "".join(f"<th>{escape(key)}</th>" for key in keys)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_extra_value(record.get(key), depth + 1)}</td>" for key in keys)
        + "</tr>"
        for record in by_name
    )
    return f'<table class="kv"><tr>{header}</tr>{body}</table>'


def render_html(
    ledger: Ledger,
    direction: str,
    output: Path,
    diffs: Mapping[str, str] | None = None,
    extras: Mapping[str, object] | None = None,
    facts: SessionFacts | None = None,
) -> Path:
    """Write one self-contained HTML report (plot embedded, no external resources); ``facts``:
    what the session knows beyond its ledger, the sessions it continues among them."""
    summary = summarize(ledger, direction, facts.clock if facts else None)
    page = build_html(ledger, summary, diffs or {}, extras or {}, facts)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
