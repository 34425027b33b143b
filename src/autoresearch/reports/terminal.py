"""How results read on a terminal: short, greppable lines for people and agents alike."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from autoresearch.engine.experiment import Experiment
from autoresearch.rules.formatting import (
    NO_VALUE,
    counts,
    duration,
    number,
    percent,
    printable,
    rate,
    share,
    value,
)
from autoresearch.rules.verdict import CRASH, KEEP, change_percent

if TYPE_CHECKING:
    from typing import Any, TextIO


def verdict_lines(experiment: Experiment) -> list[str]:
    e = experiment
    head = f"{e.status:<8} {e.commit[:7]}  "
    if e.status == CRASH:
        lines = [
            head + f"{e.reason}   {duration(e.seconds)}   log: {e.log}",
        ]
        if e.reason == "interrupted":
            lines.append(f"interrupted: tree restored to the keep ref {e.keep_ref[:7]}")
        elif e.commit != e.keep_ref:  # the baseline's own crash has nothing to return to
            lines.append(
                f"the crashed candidate stays checked out: fix it and `autoresearch try -m ...`,"
                f" or `autoresearch reset` to return to {e.keep_ref[:7]}"
            )
        return lines
    measured = f"{e.metric} {number(e.value)}"
    if e.spread is not None:
        measured += f" ±{e.spread:.2g}"
    if e.best_before is None:
        context = "(first measurement: the baseline)"
    elif e.status == KEEP:
        change = change_percent(e.value, e.best_before) if e.value is not None else None
        note = "" if e.reason == "better" else f", {e.reason}"
        context = f"(best was {number(e.best_before)}, {percent(change)}{note})"
    else:
        note = "" if e.reason == "not better" else f", {e.reason}"
        context = f"(best {number(e.best_before)}{note})"
    line = f"{head}{measured}  {context}   {duration(e.seconds)}"
    if e.status != KEEP:
        line += f"   reset to {e.keep_ref[:7]}"
    return [line, *e.notes]


def print_json(data: object) -> None:
    print(json.dumps(data, indent=None, default=str))


def report_experiment(experiment: Experiment, as_json: bool, tty: bool) -> None:
    """The verdict: a line or two (and a crash's log tail), or one JSON object."""
    if tty:
        sys.stdout.write("\r\033[K")
    if as_json:
        print_json(experiment.to_json())
        return
    for line in verdict_lines(experiment):
        print(printable(line))
    if experiment.status == CRASH and experiment.reason != "interrupted":
        print_tail(experiment.tail)


def print_tail(tail: list[str], stream: TextIO = sys.stdout) -> None:
    if tail:
        what = "line" if len(tail) == 1 else f"{len(tail)} lines"
        print(f"--- last {what} of the run log ---", file=stream)
        for line in tail:
            print("  " + printable(line), file=stream)


def noise_line(noise: dict[str, Any]) -> str:
    sigma, mode = noise["sigma"], noise["mode"]
    if mode == "off":
        return "noise: off (plain rule: strictly better is kept)"
    if mode != "auto":
        return f"noise: fixed sigma {float(mode):.4g}"
    if sigma is None:
        return "noise: unknown yet (plain rule until a commit has been run twice)"
    if sigma == 0:
        return "noise: none (repeated runs agree: plain rule, one run per candidate)"
    return f"noise: sigma {sigma:.4g} from {noise['repeated_runs']} repeated runs"


def shown_setting(value: object) -> str:
    """A setting as `config` takes it: ``none`` where it is not set."""
    if value is None or value == "":
        return "none"
    return f"{value:g}" if isinstance(value, float) else f"{value}"


def continued_line(earlier: list[dict[str, Any]]) -> str:
    """The sessions a session continues, in one line: each in its own numbers."""
    parts = []
    for session in earlier:
        best = "no result" if session["best"] is None else f"best {value(session['best'])}"
        if session["change_percent"] is not None:
            best += f", {percent(session['change_percent'])}"
        parts.append(f"{session['tag']} ({session['experiments']} experiments, {best})")
    return (
        f"continues session {' -> '.join(parts)}; harness changed since: not comparable with "
        "the numbers below"
    )


def status_lines(s: dict[str, Any]) -> list[str]:
    lines = []
    session = s.get("tag") is not None
    if session:
        lines.append(f"session {s['tag']} on {s['branch']} · {s['metric']} ({s['direction']})")
    else:
        lines.append(f"ledger · {s['metric']} ({s['direction']})")
    # Before any number: the numbers below may be the changed ones.
    lines.extend(f"record: {difference}" for difference in s.get("record") or [])
    if s.get("continues"):
        lines.append(continued_line(s["continues"]))
    best = value(s["best"]) if s["best"] is not None else "none yet"
    where = ""
    if s["best"] is not None:
        where = f" ({s['best_commit']}, {percent(s['change_percent'])})"
    baseline = value(s["baseline"]) if s["baseline"] is not None else "none yet"
    line = f"baseline {baseline} · best {best}{where}"
    if s.get("keep_ref"):
        line += f" · keep ref {s['keep_ref']}"
        if s.get("keep_value") is not None and s["keep_value"] != s["best"]:
            line += f" ({value(s['keep_value'])})"
    lines.append(line)
    tally = counts(
        s["experiments"], s["baseline"] is not None, s["keeps"], s["discards"], s["crashes"]
    )
    tally += f" · keep rate {share(s['keep_rate'])}"
    if s.get("experiments_per_hour"):
        tally += f" · {rate(s['experiments_per_hour'])}/hour"
    lines.append(tally)
    if s.get("audit"):  # the best's change above is the ledger's; whether re-runs bear it out
        lines.append(f"audit: {s['audit']}")
    noise = s.get("noise")
    if noise:
        lines.append(noise_line(noise))
    if s.get("sandbox"):
        lines.append(s["sandbox"])
    holdout = s.get("holdout")
    if holdout and holdout["trend"]:
        first, now = holdout["baseline"], holdout["best"]
        shown = "n/a" if now is None else value(now)
        lines.append(
            f"holdout {holdout['column']}: {value(first)} -> {shown} "
            f"over {len(holdout['trend'])} keeps"
        )
    running = s.get("running")
    if running and running["alive"]:
        budget = f" / {duration(running['budget'])}" if running.get("budget") else ""
        again = (
            f", the keep ref {running['reference']} running again"
            if running.get("reference")
            else ""
        )
        lines.append(
            f"running: experiment {running['experiment']} ({running['commit']}{again}) "
            f"{duration(running['elapsed'])}{budget} (pid {running['pid']}) "
            f"— {running['description']}"
        )
    elif running:
        orphan = (
            f"; its run is still alive (pid {running['run_pid']}), the next command stops it"
            if running.get("run_alive")
            else "; its run is gone"
        )
        lines.append(
            f"interrupted: experiment {running['experiment']} ({running['commit']}) will be "
            f"recorded as a crash by the next command{orphan}"
        )
    elif session:  # a ledger read alone cannot know
        lines.append("running: nothing")
    if s.get("crashed_candidate"):
        lines.append(
            f"crashed candidate {s['crashed_candidate']} checked out, waiting for a fix"
            " (`autoresearch try`) or `autoresearch reset`"
        )
    for rewind in s.get("rewinds") or []:
        lines.append(
            f"rewound: keep ref moved from {rewind['from']} back to {rewind['to']} "
            f"after {rewind['after_experiments']} experiments"
        )
    for change in s.get("changes") or []:
        old, new = (shown_setting(change[key]) for key in ("old", "new"))
        lines.append(
            f"changed {change['key']}: {old} -> {new} from experiment {change['from_experiment']}"
        )
    for problem in s.get("ledger_problems") or []:
        lines.append(f"ledger: {problem} (row ignored, file left as it is)")
    if s["recent"]:
        lines.append(f"last {len(s['recent'])}:")
        for row in s["recent"]:
            shown = NO_VALUE if row["value"] is None else value(row["value"])
            why = f"({row['reason']}) " if row.get("reason") else ""
            number = row.get("experiment")
            lines.append(
                f"  {'' if number is None else number:>3}  {row['commit']:<8} {shown:>12}  "
                f"{row['status']:<8} {why}{row['description']}"
            )
    return lines
