"""The report for a pull request, in Markdown: the headline and the table of kept changes."""

from __future__ import annotations

import html
from collections.abc import Mapping

from autoresearch.reports.plot_labels import short_description
from autoresearch.reports.summary import (
    Chapter,
    SessionFacts,
    Summary,
    diff_for,
    harness_changed,
    summarize,
)
from autoresearch.rules.formatting import percent, value
from autoresearch.store.ledger import Ledger


def _markdown_cell(text: str) -> str:
    cell = " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")
    return html.escape(cell, quote=False)  # Markdown passes raw HTML through


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks inside the text."""
    longest = run = 0
    for character in text:
        run = run + 1 if character == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _claim(summary: Summary) -> list[str]:
    if summary.baseline is None:
        return []
    change = summary.change_pct
    return [
        f"**{summary.metric}** {value(summary.baseline)} → **{value(summary.best)}**"
        + (f" ({percent(change)})" if change is not None else "")
        + f", {summary.direction}d over {summary.experiments} experiments.",
        "",
    ]


def _chapter(chapter: Chapter) -> list[str]:
    """An earlier session in a few lines: its claim and its kept changes."""
    summary = summarize(chapter.ledger, chapter.direction)
    lines = [f"### Session {_markdown_cell(chapter.tag)}, before the harness changed", ""]
    lines += _claim(summary) or ["Nothing was measured.", ""]
    for change in summary.kept_changes:
        lines.append(
            f"- {change.number} `{_markdown_cell(change.row.commit)}` "
            f"{summary.value_text(change.row.value)} ({percent(change.gain_pct)}): "
            f"{_markdown_cell(change.row.description)}"
        )
    if summary.kept_changes:
        lines.append("")
    return lines


def render_markdown(
    ledger: Ledger,
    direction: str,
    diffs: Mapping[str, str] | None = None,
    facts: SessionFacts | None = None,
    audit: str | None = None,
) -> str:
    """A summary for a pull request: the headline and the table of kept changes; before them,
    the sessions this one continues (``facts.earlier``), each followed by the marker of the
    harness's change; ``audit`` is the latest audit's verdict, shown beside the ledger's
    change."""
    facts = facts or SessionFacts()
    summary = summarize(ledger, direction, facts.clock)
    metric = summary.metric
    lines = [f"## autoresearch: {metric}", ""]
    for chapter, successor in facts.handovers():
        lines += _chapter(chapter)
        lines += [f"> **{harness_changed(successor)}**", ""]
    if facts.earlier:
        lines += [f"### Session {_markdown_cell(facts.tag or '')}", ""]
    lines += _claim(summary)
    lines += ["| | |", "|---|---|"]
    headline = summary.headline()
    if audit is not None:
        headline.append(("audit", audit))
    lines += [f"| {label} | {_markdown_cell(value)} |" for label, value in headline]
    lines.append("")
    if not summary.kept_changes:
        lines.append("No change was kept after the baseline.")
        return "\n".join(lines) + "\n"
    lines += [
        f"### Kept changes ({len(summary.kept_changes)})",
        "",
        f"| # | commit | {metric} | gain | gain % | description |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for change in summary.kept_changes:
        lines.append(
            f"| {change.number} | `{_markdown_cell(change.row.commit)}` "
            f"| {summary.value_text(change.row.value)} | {summary.gain_text(change.gain)} "
            f"| {percent(change.gain_pct)} | {_markdown_cell(change.row.description)} |"
        )
    diff_sections = []
    for change in summary.kept_changes:
        text = diff_for(diffs or {}, change.row.commit)
        if not text:
            continue
        fence = _fence(text)
        title = short_description(change.row.description, 80)
        diff_sections += [
            "<details>",
            f"<summary>{html.escape(change.row.commit)}: {html.escape(title)}</summary>",
            "",
            f"{fence}diff",
            text.rstrip("\n"),
            fence,
            "",
            "</details>",
        ]
    if diff_sections:
        lines += ["", "### Diffs", "", *diff_sections]
    return "\n".join(lines) + "\n"
