"""The morning question: is the night's improvement real?

The baseline and the best are re-run N times each, interleaved (A B A B ...) so drift in the
machine hits both alike, and the confirmed improvement with its confidence interval is set
beside the one the ledger claims. With ``keeps``, each kept change is reverted alone on top of
the best and measured, to show which keeps carried the gain and which were noise.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from autoresearch.engine import record
from autoresearch.engine.measure import Watch, run_and_read
from autoresearch.engine.run_environment import run_environment
from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.rules import formatting, stats, verdict
from autoresearch.rules.confirmation import confirmation, is_confirmed
from autoresearch.rules.stats import difference_of_means
from autoresearch.store import git, runner
from autoresearch.store.executors import RunRequest
from autoresearch.store.files import write_json, write_text
from autoresearch.store.ledger import Row

AUDIT_SEED_BASE = 10_000_000


class Interval(NamedTuple):
    """A confirmed improvement (positive is better) with its 95% interval; None where there
    were too few runs to say."""

    estimate: float | None = None
    low: float | None = None
    high: float | None = None


class KeepContribution(NamedTuple):
    commit: str
    description: str
    claimed_gain: float
    runs: tuple[float, ...] = ()
    contribution: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""


class AuditResult(NamedTuple):
    metric: str
    direction: str
    baseline_commit: str
    best_commit: str
    claimed: float
    baseline_runs: tuple[float, ...] = ()
    best_runs: tuple[float, ...] = ()
    confirmed: float | None = None
    low: float | None = None
    high: float | None = None
    crashes: int = 0
    keeps: tuple[KeepContribution, ...] = ()

    @property
    def share(self) -> float | None:
        """How much of the claimed improvement the re-runs confirm."""
        if self.confirmed is None or self.claimed == 0:
            return None
        return self.confirmed / self.claimed

    def to_json(self) -> dict[str, object]:
        return {**self._asdict(), "keeps": [keep._asdict() for keep in self.keeps]}


def gain(before: float, after: float, direction: str) -> float:
    """Signed so that a positive gain is an improvement."""
    return before - after if direction == "minimize" else after - before


def improvement(before: Sequence[float], after: Sequence[float], direction: str) -> Interval:
    """How much better ``after`` is than ``before``, with Welch's 95% interval."""
    interval = difference_of_means(before, after)
    if interval is None:
        return Interval()
    sign = 1 if direction == "maximize" else -1
    low, high = sorted((sign * interval.low, sign * interval.high))
    return Interval(sign * interval.estimate, low, high)


class Audit:
    def __init__(self, session: Session, runs: int, say: Callable[[str], None]) -> None:
        if runs < 2:
            raise UserError("audit needs at least 2 runs of each version")
        session.require_run()
        self.session = session
        self.runs = runs
        self.say = say
        self.branch = f"autoresearch/{session.tag}"
        self.counter = 0
        self.crashes = 0

    def run(self, keeps: bool) -> AuditResult:
        s = self.session
        ledger = s.read_ledger()
        kept = [r for r in ledger.rows if r.status == verdict.KEEP]
        keep = s.keep_ref()
        best_row = ledger.kept_row(keep)
        if len(kept) < 2 or best_row is None or best_row is kept[0]:
            raise UserError("nothing to audit yet: the keep ref is still the baseline")
        record.require_measured(s, [keep])
        if git.head(s.repo) != keep or not git.status(s.repo).clean:
            raise UserError("audit starts from the keep ref: `autoresearch reset` first")
        baseline_commit = self.resolve(kept[0])
        direction = s.settings.direction
        write_json(s.files.audit_marker, {"branch": self.branch, "group": None})
        baseline_runs: list[float] = []
        best_runs: list[float] = []
        try:
            for index in range(self.runs):
                self.say(f"audit: round {index + 1}/{self.runs}")
                baseline_runs += self.measure(baseline_commit)
                best_runs += self.measure(keep)
            contributions = self.leave_one_out(kept, keep, best_runs) if keeps else ()
        finally:
            git.checkout(s.repo, self.branch)
            os.unlink(s.files.audit_marker)
        confirmed = improvement(baseline_runs, best_runs, direction)
        return AuditResult(
            metric=s.settings.metric,
            direction=direction,
            baseline_commit=baseline_commit,
            best_commit=keep,
            claimed=gain(kept[0].value, best_row.value, direction),
            baseline_runs=tuple(baseline_runs),
            best_runs=tuple(best_runs),
            confirmed=confirmed.estimate,
            low=confirmed.low,
            high=confirmed.high,
            crashes=self.crashes,
            keeps=contributions,
        )

    def resolve(self, row: Row) -> str:
        commit = git.resolve(self.session.repo, row.commit)
        if commit is None:
            raise UserError(f"kept commit {row.commit} is not in this repository")
        return commit

    def measure(self, commit: str) -> list[float]:
        """One run of ``commit``: its value, or nothing when it crashed (counted)."""
        s = self.session
        git.checkout_detached(s.repo, commit)
        self.counter += 1
        log_path = os.path.join(s.files.audit_logs, f"{self.counter:03d}-{commit[:7]}.log")
        os.makedirs(s.files.audit_logs, exist_ok=True)
        seed = AUDIT_SEED_BASE + self.counter
        env = run_environment(s.settings, commit, "audit", seed)
        run_id = runner.new_run_id()
        marker = {"branch": self.branch, "run_id": run_id}

        def started(group: int) -> None:
            write_json(s.files.audit_marker, {**marker, "group": group})

        kill_after = s.settings.kill_after
        request = RunRequest(
            commit, s.settings.run, log_path, env, kill_after, (), run_id, s.confine
        )
        _, readings, crash = run_and_read(s.in_place(), request, s.patterns, Watch(started))
        if crash is not None:
            self.crashes += 1
            return []
        value = readings[s.settings.metric].value
        return [] if value is None else [value]

    def leave_one_out(
        self, kept: list[Row], best: str, best_runs: Sequence[float]
    ) -> tuple[KeepContribution, ...]:
        s = self.session
        entries = []
        for previous, row in zip(kept, kept[1:], strict=False):
            claimed = gain(previous.value, row.value, s.settings.direction)
            entry = KeepContribution(row.commit, row.description, claimed)
            variant = self.without(self.resolve(previous), self.resolve(row), best)
            if variant is None:
                note = "could not be reverted alone (later keeps build on it)"
                entries.append(entry._replace(note=note))
                continue
            self.say(f"audit: without {row.commit} ({row.description})")
            runs: list[float] = []
            for _ in range(self.runs):
                runs += self.measure(variant)
            carried = improvement(runs, best_runs, s.settings.direction)
            entries.append(
                entry._replace(
                    runs=tuple(runs),
                    contribution=carried.estimate,
                    low=carried.low,
                    high=carried.high,
                )
            )
        git.checkout_detached(s.repo, best)
        return tuple(entries)

    def without(self, before: str, kept: str, best: str) -> str | None:
        """The best version with one kept change taken out, pinned under a ref; None if the
        change cannot be taken out cleanly."""
        s = self.session
        git.checkout_detached(s.repo, best)
        patch = git.diff(s.repo, before, kept)
        if not git.apply_reversed(s.repo, patch):
            git.reset_hard(s.repo, best)
            return None
        commit = git.commit_staged(
            s.repo, f"audit: {s.tag} without {kept[:7]}", identity=s.meta.identity
        )
        git.update_ref(s.repo, f"refs/autoresearch/{s.tag}/audit/without-{kept[:7]}", commit)
        return commit


def write_report(session: Session, result: AuditResult) -> tuple[str, str]:
    """The audit as JSON and as Markdown, next to the ledger (excluded from git)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = os.path.join(session.files.audits, f"audit-{stamp}.json")
    write_text(json_path, json.dumps(result.to_json(), indent=2))
    markdown = session.files.audit_markdown
    git.exclude(session.repo, [f"/{os.path.basename(markdown)}"])
    write_text(markdown, "\n".join(report_lines(result)) + "\n")
    return markdown, json_path


def _mean_of(runs: list[float]) -> str:
    return formatting.value(stats.mean(runs) if runs else None)


def report_lines(result: AuditResult) -> list[str]:
    part = ""
    # A share of the claim says something only of an improvement the re-runs confirm.
    if result.share is not None and is_confirmed(result.low, result.high):
        part = f" ({formatting.share(result.share)} of the claim)"
    lines = [
        f"# Audit of {result.metric} ({result.direction})",
        "",
        f"- baseline {result.baseline_commit[:7]}: {len(result.baseline_runs)} runs, mean "
        f"{_mean_of(result.baseline_runs)}",
        f"- best {result.best_commit[:7]}: {len(result.best_runs)} runs, mean "
        f"{_mean_of(result.best_runs)}",
        f"- claimed improvement (ledger): {formatting.signed_value(result.claimed)}",
        f"- {confirmation(result.confirmed, result.low, result.high)}{part}",
    ]
    if result.crashes:
        lines.append(f"- {result.crashes} audit runs crashed and were left out")
    if result.keeps:
        lines += [
            "",
            "## Leave one out: what each keep carried",
            "",
            "| keep | description | claimed | re-runs |",
            "|---|---|---|---|",
        ]
        for k in result.keeps:
            carried = k.note or confirmation(k.contribution, k.low, k.high)
            lines.append(
                f"| {k.commit} | {k.description} | {formatting.signed_value(k.claimed_gain)} | "
                f"{carried} |"
            )
    return lines
