"""The morning question: is the night's improvement real?

The baseline and the best are re-run N times each, interleaved (A B A B ...) so drift in the
machine hits both alike, and the confirmed improvement with its confidence interval is set
beside the one the ledger claims. With ``keeps``, each kept change is reverted alone on top of
the best and measured, to show which keeps carried the gain and which were noise.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autoresearch import git, runner, stats, verdict
from autoresearch.errors import UserError
from autoresearch.ledger import Row
from autoresearch.measure import run_and_read, run_environment
from autoresearch.report import format_value
from autoresearch.session import Session
from autoresearch.state import read_json, write_json
from autoresearch.stats import difference_of_means

AUDIT_SEED_BASE = 10_000_000


@dataclass
class KeepContribution:
    commit: str
    description: str
    claimed_gain: float
    runs: list[float] = field(default_factory=list)
    contribution: float | None = None
    low: float | None = None
    high: float | None = None
    note: str = ""


@dataclass
class AuditResult:
    metric: str
    direction: str
    baseline_commit: str
    best_commit: str
    claimed: float
    baseline_runs: list[float] = field(default_factory=list)
    best_runs: list[float] = field(default_factory=list)
    confirmed: float | None = None
    low: float | None = None
    high: float | None = None
    crashes: int = 0
    keeps: list[KeepContribution] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        """How much of the claimed improvement the re-runs confirm."""
        if self.confirmed is None or self.claimed == 0:
            return None
        return self.confirmed / self.claimed


def gain(before: float, after: float, direction: str) -> float:
    """Signed so that a positive gain is an improvement."""
    return before - after if direction == "minimize" else after - before


class Audit:
    def __init__(self, session: Session, runs: int, say: Callable[[str], None]) -> None:
        if runs < 2:
            raise UserError("audit needs at least 2 runs of each version")
        self.session = session
        self.runs = runs
        self.say = say
        self.marker = Path(session.files.dir, "audit.json")
        self.branch = f"autoresearch/{session.tag}"
        self.counter = 0

    def run(self, keeps: bool) -> AuditResult:
        s = self.session
        book = s.read_ledger()
        kept = [r for r in book.rows if r.status == verdict.KEEP]
        keep = s.keep_ref()
        best_row = book.kept_row(keep)
        if len(kept) < 2 or best_row is None or best_row is kept[0]:
            raise UserError("nothing to audit yet: the keep ref is still the baseline")
        if git.head(s.repo) != keep or not git.status(s.repo).clean:
            raise UserError("audit starts from the keep ref: `autoresearch reset` first")
        baseline_commit = self.resolve(kept[0])
        direction = s.settings.direction
        result = AuditResult(
            metric=s.settings.metric,
            direction=direction,
            baseline_commit=baseline_commit,
            best_commit=keep,
            claimed=gain(kept[0].value, best_row.value, direction),
        )
        write_json(self.marker, {"branch": self.branch, "group": None})
        try:
            for index in range(self.runs):
                self.say(f"audit: round {index + 1}/{self.runs}")
                self.measure(baseline_commit, result.baseline_runs, result)
                self.measure(keep, result.best_runs, result)
            interval = difference_of_means(result.baseline_runs, result.best_runs)
            if interval is not None:
                sign = 1 if direction == "maximize" else -1
                bounds = sorted((sign * interval.low, sign * interval.high))
                result.confirmed, (result.low, result.high) = sign * interval.estimate, bounds
            if keeps:
                self.leave_one_out(kept, keep, result)
        finally:
            git.checkout(s.repo, self.branch)
            self.marker.unlink(missing_ok=True)
        return result

    def resolve(self, row: Row) -> str:
        commit = git.resolve(self.session.repo, row.commit)
        if commit is None:
            raise UserError(f"kept commit {row.commit} is not in this repository")
        return commit

    def measure(self, commit: str, into: list[float], result: AuditResult) -> None:
        s = self.session
        git.checkout_detached(s.repo, commit)
        self.counter += 1
        log_path = Path(s.files.dir, "audit", f"{self.counter:03d}-{commit[:7]}.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = run_environment(s, commit, "audit", AUDIT_SEED_BASE + self.counter)
        run_id = runner.new_run_id()
        marker = {"branch": self.branch, "run_id": run_id}
        _, readings, crash = run_and_read(
            s,
            s.settings.run,
            log_path,
            env,
            s.patterns,
            on_start=lambda group: write_json(self.marker, {**marker, "group": group}),
            run_id=run_id,
        )
        if crash is not None:
            result.crashes += 1
            return
        value = readings[s.settings.metric].value
        if value is not None:
            into.append(value)

    def leave_one_out(self, kept: list[Row], best: str, result: AuditResult) -> None:
        s = self.session
        for previous, row in zip(kept, kept[1:], strict=False):
            claimed = gain(previous.value, row.value, result.direction)
            entry = KeepContribution(row.commit, row.description, claimed)
            result.keeps.append(entry)
            variant = self.without(self.resolve(previous), self.resolve(row), best)
            if variant is None:
                entry.note = "could not be reverted alone (later keeps build on it)"
                continue
            self.say(f"audit: without {row.commit} ({row.description})")
            for _ in range(self.runs):
                self.measure(variant, entry.runs, result)
            interval = difference_of_means(entry.runs, result.best_runs)
            if interval is not None:
                sign = 1 if result.direction == "maximize" else -1
                entry.contribution = sign * interval.estimate
                entry.low, entry.high = sorted((sign * interval.low, sign * interval.high))
        git.checkout_detached(s.repo, best)

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
            s.repo,
            f"audit: {s.tag} without {kept[:7]}",
            identity=bool(s.meta.get("identity", True)),
        )
        git.update_ref(s.repo, f"refs/autoresearch/{s.tag}/audit/without-{kept[:7]}", commit)
        return commit


def recover_audit(session: Session) -> list[str]:
    """After a kill mid-audit: stop its run and put the session branch back."""
    marker = Path(session.files.dir, "audit.json")
    state = read_json(marker)
    if state is None:
        return []
    runner.kill_recorded(state)
    with contextlib.suppress(git.GitError):
        git.reset_hard(session.repo, "HEAD")
    git.checkout(session.repo, str(state.get("branch") or f"autoresearch/{session.tag}"))
    marker.unlink(missing_ok=True)
    return ["an audit was interrupted; the session branch is checked out again"]


def write_report(session: Session, result: AuditResult) -> tuple[Path, Path]:
    """The audit as JSON and as Markdown, next to the ledger (excluded from git)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = Path(session.files.dir, "audits")
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"audit-{stamp}.json"
    json_path.write_text(json.dumps(asdict(result), indent=2), encoding="utf-8")
    markdown = Path(session.repo, "audit.md")
    git.exclude(session.repo, ["/audit.md"])
    markdown.write_text("\n".join(report_lines(result)) + "\n", encoding="utf-8")
    return markdown, json_path


def _interval(low: float | None, high: float | None) -> str:
    return f"[{format_value(low)}, {format_value(high)}]"


def _mean_of(runs: list[float]) -> str:
    return format_value(stats.mean(runs) if runs else None)


def report_lines(result: AuditResult) -> list[str]:
    share = f" ({result.share * 100:.0f}% of the claim)" if result.share is not None else ""
    lines = [
        f"# Audit of {result.metric} ({result.direction})",
        "",
        f"- baseline {result.baseline_commit[:7]}: {len(result.baseline_runs)} runs, mean "
        f"{_mean_of(result.baseline_runs)}",
        f"- best {result.best_commit[:7]}: {len(result.best_runs)} runs, mean "
        f"{_mean_of(result.best_runs)}",
        f"- claimed improvement (ledger): {format_value(result.claimed)}",
        f"- confirmed improvement: {format_value(result.confirmed)}, 95% CI "
        f"{_interval(result.low, result.high)}{share}",
    ]
    if result.crashes:
        lines.append(f"- {result.crashes} audit runs crashed and were left out")
    if result.keeps:
        lines += [
            "",
            "## Leave one out: what each keep carried",
            "",
            "| keep | description | claimed | confirmed (95% CI) | |",
            "|---|---|---|---|---|",
        ]
        for k in result.keeps:
            carried = "n/a"
            if k.contribution is not None:
                carried = f"{format_value(k.contribution)} {_interval(k.low, k.high)}"
            verdict_text = k.note or (
                "real" if k.low is not None and k.low > 0 else "not distinguishable from noise"
            )
            lines.append(
                f"| {k.commit} | {k.description} | {format_value(k.claimed_gain)} | "
                f"{carried} | {verdict_text} |"
            )
    return lines
