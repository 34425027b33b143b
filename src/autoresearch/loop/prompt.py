"""The prompt an agent gets for one experiment: fresh each time, bounded in size.

Nothing accumulates between calls: the program, the goal, the rules, a window of the ledger,
the ideas already discarded and, on a fix attempt, the crash's log tail. The holdout metric,
when there is one, never appears here, and neither does the value of a credential of the tool's
environment (a run or an agent may have printed one): it is masked, ``[masked NAME]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from autoresearch.reports.summary import crash_reason
from autoresearch.rules.environment import mask_secrets
from autoresearch.rules.formatting import number
from autoresearch.rules.verdict import CRASH, KEEP, change_percent
from autoresearch.store.ledger import Ledger, Row

MAX_PROMPT_CHARS = 24_000
MAX_PROGRAM_CHARS = 8_000
ALL_ROWS_UP_TO = 30
RECENT_ROWS = 15
MAX_DISCARDED = 40


class PromptInputs(NamedTuple):
    program: str | None
    metric: str
    direction: str
    run_command: str
    budget: float | None
    scope: list[str]
    protected: list[str]
    ledger: Ledger
    keep_commit: str
    description_path: Path | None = None
    crash: Row | None = None
    crash_tail: tuple[str, ...] = ()
    # Whose credentials are masked; None: the tool's own environment, where one would come from.
    environ: Mapping[str, str] | None = None


def build_prompt(inputs: PromptInputs) -> str:
    sections = [
        _program(inputs.program),
        _goal(inputs),
        _rules(inputs),
        _history(inputs.ledger),
        _discarded(inputs.ledger),
        _fix(inputs) if inputs.crash is not None else _task(inputs),
    ]
    # Masked before it is cut, so that a cut never leaves part of a secret.
    text = mask_secrets(
        "\n\n".join(s for s in sections if s),
        os.environ if inputs.environ is None else inputs.environ,
    )
    if len(text) > MAX_PROMPT_CHARS:
        text = text[: MAX_PROMPT_CHARS - 40] + "\n\n[prompt cut to stay within its size limit]"
    return text + "\n"


def _program(program: str | None) -> str:
    if not program:
        return "# Research program\n\n(no program.md: improve the metric by any sound idea)"
    if len(program) > MAX_PROGRAM_CHARS:
        program = program[:MAX_PROGRAM_CHARS] + "\n[program cut]"
    return "# Research program\n\n" + program.strip()


def _goal(inputs: PromptInputs) -> str:
    better = "lower" if inputs.direction == "minimize" else "higher"
    kept = [r for r in inputs.ledger.rows if r.status == KEEP]
    lines = [f"# Goal\n\nImprove `{inputs.metric}` ({better} is better)."]
    if kept:
        best = inputs.ledger.kept_row(inputs.keep_commit) or kept[-1]
        change = change_percent(best.value, kept[0].value)
        shown = f", {change:+.2f}%" if change is not None else ""
        lines.append(
            f"Baseline {number(kept[0].value)}; best so far "
            f"{number(best.value)} at {best.commit}{shown}."
        )
        steps = [r.description for r in kept[1:]][-10:]
        if steps:
            lines.append("The best version got there through: " + "; ".join(steps) + ".")
    else:
        lines.append("Nothing has been measured successfully yet.")
    budget = f" with a time budget of {inputs.budget:g} s" if inputs.budget else ""
    lines.append(f"Each experiment runs `{inputs.run_command}`{budget}; the tool measures it.")
    return " ".join(lines[:1]) + "\n" + "\n".join(lines[1:])


def _rules(inputs: PromptInputs) -> str:
    scope = ", ".join(inputs.scope) or "(none)"
    protected = ", ".join(inputs.protected) or "(none)"
    rules = [
        "# Rules",
        "",
        f"- Change only these files: {scope}. Never change: {protected}.",
        "- One idea per experiment, small enough to judge by the metric.",
        "- No new dependencies: use only what the project already imports.",
        "- Simpler is better: a tiny gain that adds much code is not worth it; equal results "
        "with less code are a win.",
        "- Do not run the full experiment yourself and do not commit: leave your edits in the "
        "working tree. The tool commits, runs, measures and decides keep or discard.",
    ]
    if inputs.description_path is not None:
        rules.append(
            f"- When done, write a one-line description of your idea to {inputs.description_path}."
        )
    return "\n".join(rules)


def _row_line(index: int, row: Row, metric: str) -> str:
    value = "-" if row.status == CRASH else number(row.value)
    reason = crash_reason(row)
    why = f"({reason}) " if reason else ""
    return f"| {index} | {row.commit} | {value} | {row.status} | {why}{row.description} |"


def _history(ledger: Ledger) -> str:
    rows = list(enumerate(ledger.rows))
    if not rows:
        return ""
    if len(rows) > ALL_ROWS_UP_TO:
        recent = rows[-RECENT_ROWS:]
        older_keeps = [(i, r) for i, r in rows[:-RECENT_ROWS] if r.status == KEEP]
        rows = older_keeps + recent
        title = f"# Experiments so far (every keep, then the last {RECENT_ROWS})"
    else:
        title = "# Experiments so far"
    header = f"| # | commit | {ledger.metric} | status | description |\n|---|---|---|---|---|"
    return f"{title}\n\n{header}\n" + "\n".join(_row_line(i, r, ledger.metric) for i, r in rows)


def _discarded(ledger: Ledger) -> str:
    seen: dict[str, tuple[int, Row]] = {}
    for experiment, row in enumerate(ledger.rows):
        if row.status != KEEP and row.description:
            seen[row.description] = (experiment, row)
    if not seen:
        return ""
    tried = list(seen.values())[-MAX_DISCARDED:]
    lines = [f"- #{experiment} {r.description} ({r.status})" for experiment, r in tried]
    return (
        "# Already tried and not kept\n\n"
        "Do not make these changes again by hand. When you think noise hid a real gain in one "
        "of them, or that it would work on top of the best version now, change nothing and "
        "give `retry N` as your whole description (N: its number): the tool brings experiment "
        "N's change back and measures it again.\n\n" + "\n".join(lines)
    )


def _task(inputs: PromptInputs) -> str:
    return (
        "# Your task\n\nPropose and make ONE new change that you expect to improve "
        f"`{inputs.metric}`. Then stop."
    )


def _fix(inputs: PromptInputs) -> str:
    crash = inputs.crash
    assert crash is not None
    tail = "\n".join(inputs.crash_tail) or "(the log is empty)"
    return (
        "# Your task: fix a crash\n\n"
        f"The last experiment ({crash.commit}: {crash.description}) crashed. The files in the "
        "working tree are that experiment. Fix the cause so the idea can be measured, on top "
        f"of the current files; do not abandon the idea.\n\nThe end of its run log:\n\n```\n"
        f"{tail}\n```"
    )
