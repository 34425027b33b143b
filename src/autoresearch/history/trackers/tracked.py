"""One experiment as a tracker run: what the ledger, the runs file, git and the archived run log
know about it, gathered once so that every tracker logs the same thing."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from autoresearch.reports.summary import crash_reason
from autoresearch.rules.verdict import CRASH, KEEP
from autoresearch.store import git
from autoresearch.store.files import SessionFiles, read_runs
from autoresearch.store.ledger import RUN_COLUMNS, Ledger, Row, read_ledger

if TYPE_CHECKING:
    from collections.abc import Iterator

# MLflow refuses longer parameter values; a description is a line, not an essay.
PARAM_LIMIT = 500


class Source(NamedTuple):
    """Where experiments are read from: a session's files, or any ledger on its own."""

    group: str  # the MLflow experiment / W&B group: the session's tag
    ledger: str
    files: SessionFiles | None = None
    branch: str | None = None


class _Reading(NamedTuple):
    """What every experiment of one export shares."""

    source: Source
    ledger: Ledger
    digest: str
    extras: Mapping[int, Mapping[str, Any]]


class Tracked(NamedTuple):
    """One experiment, as every tracker logs it."""

    number: int
    group: str
    key: str  # stable across exports: the run's identity in the tracker
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    run_values: list[float]  # each run's measurement of the primary metric, in order
    tags: dict[str, str]
    log: str | None  # the archived run log, when it is on disk
    crashed: bool
    repo: str | None = None
    base: str | None = None

    def diff(self) -> str | None:
        """The change against its base, asked of git only for what is sent."""
        commit = self.params["commit"]
        if self.repo is None or not self.base or not commit or commit == "baseline":
            return None
        try:
            return git.diff(self.repo, self.base, commit) or None
        except git.GitError:
            return None


def experiments(
    source: Source, extras: Mapping[int, Mapping[str, Any]] | None = None
) -> Iterator[Tracked]:
    """Every experiment of the ledger, in order. ``extras``: what only the loop knew (agent,
    model, knob values, the verdict's reason), by experiment number."""
    ledger = read_ledger(source.ledger)
    numbers = _numbers(source.ledger)
    # By experiment and commit: an experiment's runs of its keep ref are the keep ref's.
    runs: dict[tuple[int, str], list[float]] = {}
    if source.files is not None:
        for run in read_runs(source.files):
            if isinstance(run.get("experiment"), int) and isinstance(run.get("value"), float):
                key = (run["experiment"], str(run.get("commit", ""))[:7])
                runs.setdefault(key, []).append(run["value"])
    reading = _Reading(source, ledger, _digest(source.group, ledger), extras or {})
    best: float | None = None
    base: str | None = None
    for row in ledger.rows:
        number = numbers.get(row.line, row.line - 2)
        if row.status == KEEP:
            best = row.value
        yield _tracked(reading, row, number, best, base, runs.get((number, row.commit[:7]), []))
        if row.status == KEEP:
            base = row.commit


def _tracked(
    reading: _Reading,
    row: Row,
    number: int,
    best: float | None,
    base: str | None,
    run_values: list[float],
) -> Tracked:
    source, ledger = reading.source, reading.ledger
    extra = dict(reading.extras.get(number, {}))
    crashed = row.status == CRASH
    params = {"commit": row.commit, "description": row.description[:PARAM_LIMIT]}
    if base:
        params["base_commit"] = base
    for key in ("agent", "model"):
        if extra.get(key):
            params[key] = str(extra[key])[:PARAM_LIMIT]
    for name, value in dict(extra.get("knobs") or {}).items():
        params[f"knob.{name}"] = str(value)[:PARAM_LIMIT]
    metrics: dict[str, float] = {"experiment": float(number)}
    if not crashed:  # a crash's metrics are written as 0, which was never measured
        for name in [ledger.metric, *ledger.secondary]:
            value = row.number(name)
            if value is not None:
                metrics[name] = value
    for role in RUN_COLUMNS:  # under the column's own name: a metric may be called `seconds`
        value = ledger.run_number(row, role)
        if value is not None:
            metrics[ledger.run_columns.get(role, role)] = value
    for name in (c for c in ledger.columns if c.startswith("holdout")):
        value = row.number(name)
        if value is not None:
            metrics[name] = value
    if best is not None:
        metrics["best_so_far"] = best
    tags = {
        "autoresearch.session": source.group,
        "autoresearch.experiment": str(number),
        "verdict": row.status,
    }
    # What the loop knew, else what the ledger says of a crash (an export after the fact).
    reason = extra.get("reason") or crash_reason(row)
    if reason:
        tags["reason"] = str(reason)[:PARAM_LIMIT]
    if source.branch:
        tags["branch"] = source.branch
    repo = source.files.repo if source.files is not None else None
    return Tracked(
        number=number,
        group=source.group,
        key=f"{_safe(source.group)}-{number:04d}-{reading.digest}",
        name=f"{number:04d} {row.description[:60]}".strip(),
        params=params,
        metrics=metrics,
        run_values=[] if crashed else run_values,
        tags=tags,
        log=_log(source.files, number, row.commit),
        crashed=crashed,
        repo=repo,
        base=base,
    )


def _numbers(path: str) -> dict[int, int]:
    """Each data line's experiment number: its place among the ledger's non-blank data lines,
    as the step counted it when the row was written."""
    numbers = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        count = 0
        for line_number, text in enumerate(handle, start=1):
            if line_number > 1 and text.strip():
                numbers[line_number] = count
                count += 1
    return numbers


def _digest(group: str, ledger: Ledger) -> str:
    """Six hex digits telling apart sessions that share a tag (the default tag is a date):
    the tag and the baseline's commit."""
    first = ledger.rows[0].commit if ledger.rows else ""
    return hashlib.sha1(f"{group}\0{first}".encode()).hexdigest()[:6]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _log(files: SessionFiles | None, number: int, commit: str) -> str | None:
    if files is None:
        return None
    path = files.archived_log(number, commit)
    return path if os.path.isfile(path) else None
