"""Measure one candidate: run it (again, while the verdict needs more evidence), guard the
protected files around every run, apply the constraints, and run the holdout after a keep.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence

from autoresearch import guard, runner, stats, verdict
from autoresearch.metrics import Reading, default_pattern, read_metrics
from autoresearch.settings import Settings, parse_constraint
from autoresearch.state import append_run, link_run_log, read_runs, write_json

TYPE_CHECKING = False  # typing is not imported at run time: see records.py
if TYPE_CHECKING:
    from typing import Any

    from _typeshed import StrPath

    from autoresearch.session import Session

SEED_STRIDE = 1000


class Measurement:
    """What the runs of one candidate have shown so far; filled in run by run."""

    __slots__ = (
        "verdict",
        "values",
        "metrics",
        "seconds",
        "interrupted",
        "log",
        "holdout",
        "holdout_note",
    )

    def __init__(self, verdict_so_far: verdict.Verdict) -> None:
        self.verdict = verdict_so_far
        self.values: list[float] = []
        self.metrics: dict[str, float | None] = {}
        self.seconds = 0.0
        self.interrupted = False
        self.log: str | None = None
        self.holdout: float | None = None
        self.holdout_note: str | None = None

    @property
    def spread(self) -> float | None:
        return stats.stdev(self.values) if len(self.values) > 1 else None


def noise_sigma(settings: Settings, runs: Sequence[Mapping[str, Any]]) -> float | None:
    """The run-to-run noise the verdict assumes: None means the plain rule."""
    if settings.noise == "off":
        return None
    if settings.noise != "auto":
        return float(settings.noise)
    groups: dict[str, list[float]] = {}
    for run in runs:
        groups.setdefault(str(run["commit"]), []).append(float(run["value"]))
    return verdict.cautious_sigma(list(groups.values()))


def reference_runs(runs: Sequence[Mapping[str, Any]], keep: str, best: float | None) -> tuple:
    values = tuple(float(r["value"]) for r in runs if str(r["commit"]) == keep)
    return values or ((best,) if best is not None else ())


def resolve_amount(text: str | None, baseline: float | None) -> float:
    """An absolute amount, or a percentage of the baseline (0 while there is no baseline)."""
    if not text or (text.endswith("%") and baseline is None):
        return 0.0
    return verdict.resolve_min_delta(text, baseline)


def run_environment(session: Session, commit: str, experiment: str, seed: int) -> dict[str, str]:
    """What a run sees of the session, besides the user's own environment."""
    budget = session.settings.budget
    return {
        **os.environ,
        "AUTORESEARCH_TAG": session.tag,
        "AUTORESEARCH_COMMIT": commit,
        "AUTORESEARCH_BUDGET": f"{budget:g}" if budget is not None else "",
        "AUTORESEARCH_EXPERIMENT": experiment,
        "AUTORESEARCH_SEED": str(seed),
    }


def run_and_read(
    session: Session,
    command: str,
    log_path: StrPath,
    env: Mapping[str, str],
    patterns: Mapping[str, re.Pattern[str]],
    on_start: Callable[[int], None] | None = None,
    on_tick: Callable[[float], None] | None = None,
    run_id: str | None = None,
) -> tuple[runner.RunResult, dict[str, Reading], str | None]:
    """Run a command within the session's time limit, read its metrics, say why it crashed."""
    result = runner.run_command(
        command,
        session.repo,
        log_path,
        env,
        kill_after=session.settings.kill_after,
        on_start=on_start,
        on_tick=on_tick,
        run_id=run_id,
    )
    readings = read_metrics(runner.lines_from_end(log_path), patterns)
    return result, readings, session.crash_reason(result, readings)


class Measurer:
    def __init__(
        self,
        session: Session,
        number: int,
        commit: str,
        inflight: dict[str, Any],
        on_start: Callable[[int], None] | None,
        on_tick: Callable[[float], None] | None,
    ) -> None:
        self.session = session
        self.settings = session.settings
        self.number = number
        self.commit = commit
        self.inflight = inflight
        self.on_start = on_start
        self.on_tick = on_tick

    def measure(
        self,
        keep: str,
        best: float | None,
        baseline: float | None,
        lines: Callable[[], tuple[int, int]],
    ) -> Measurement:
        """Run until the verdict is reached. ``lines`` gives the lines added and removed; it is
        asked once the first run is over, so that working them out overlaps the run."""
        runs = read_runs(self.session.files)
        sigma = noise_sigma(self.settings, runs)
        first_measurement = best is None
        evidence = dict(
            reference=reference_runs(runs, keep, best),
            sigma=sigma,
            direction=self.settings.direction,
            min_delta=resolve_amount(self.settings.min_delta, baseline),
            max_runs=max(1, self.settings.repeats),
            complexity_cost=resolve_amount(self.settings.complexity_cost, baseline),
        )
        counted: tuple[int, int] | None = None
        # A noise-aware session learns its noise from the baseline, measured twice.
        baseline_runs = 2 if first_measurement and self.settings.noise == "auto" else 1
        outcome = Measurement(verdict.Verdict(verdict.CRASH, "not run"))
        sums: dict[str, float] = {}
        while True:
            index = len(outcome.values)
            crash, readings = self.run_once(index, outcome)
            if crash is not None:
                outcome.verdict = verdict.Verdict(verdict.CRASH, crash)
                outcome.metrics = dict.fromkeys(self.session.patterns)
                return outcome
            value = readings[self.settings.metric].value
            assert value is not None
            outcome.values.append(value)
            for name, reading in readings.items():
                sums[name] = sums.get(name, 0.0) + float(reading.value or 0.0)
            append_run(
                self.session.files,
                {"experiment": self.number, "commit": self.commit, "run": index, "value": value},
            )
            if first_measurement:
                if len(outcome.values) < baseline_runs:
                    continue
                outcome.verdict = verdict.Verdict(
                    verdict.KEEP,
                    "first measurement",
                    mean=stats.mean(outcome.values),
                    runs=len(outcome.values),
                )
                break
            counted = counted or lines()
            decided = verdict.judge(
                verdict.Evidence(
                    candidate=tuple(outcome.values),
                    lines_added=counted[0],
                    lines_removed=counted[1],
                    **evidence,
                )
            )
            if decided is not None:
                outcome.verdict = decided
                break
        count = len(outcome.values)
        outcome.metrics = {name: total / count for name, total in sums.items()}
        if not first_measurement:
            outcome.verdict = self.apply_constraints(outcome)
        if outcome.verdict.status == verdict.KEEP and self.settings.holdout:
            self.run_holdout(outcome)
        return outcome

    def run_once(self, index: int, outcome: Measurement) -> tuple[str | None, dict[str, Reading]]:
        files = self.session.files
        suffix = f".run{index + 1}" if index else ""
        log_path = files.archived_log(self.number, self.commit, suffix)
        os.makedirs(files.logs, exist_ok=True)
        open(log_path, "ab").close()  # run.log names it before the run writes a line
        link_run_log(files, log_path)
        outcome.log = outcome.log or log_path
        tampered = self.tampered("before the run")
        if tampered:
            return tampered, {}

        run_id = runner.new_run_id()  # recorded, for a kill of the tool

        def started(group: int) -> None:
            # Not fsynced, as when first written: a process group only matters while the
            # machine stays up.
            where = {"group": group, "run_id": run_id, "run": index, "log": str(log_path)}
            write_json(files.inflight_json, {**self.inflight, **where}, durable=False)
            if self.on_start is not None:
                self.on_start(group)

        result, readings, crash = run_and_read(
            self.session,
            self.settings.run,
            log_path,
            self.environment(index),
            self.session.patterns,
            on_start=started,
            on_tick=self.on_tick,
            run_id=run_id,
        )
        outcome.seconds += result.seconds
        outcome.interrupted = result.interrupted
        return self.tampered("during the run") or crash, readings

    def environment(self, index: int) -> dict[str, str]:
        return run_environment(
            self.session, self.commit, str(self.number), self.number * SEED_STRIDE + index
        )

    def tampered(self, when: str) -> str | None:
        prints = self.session.meta.get("protected") or {}
        if not prints:
            return None
        files = self.session.files
        differing = guard.changed(self.session.repo, prints)  # type: ignore[arg-type]
        if not differing:
            return None
        lost = guard.restore(
            self.session.repo,
            differing,
            prints,  # type: ignore[arg-type]
            files.protected_backup,
        )
        note = f" (could not restore: {', '.join(lost)})" if lost else ""
        return f"protected file changed {when}: {', '.join(differing)}{note}"

    def apply_constraints(self, outcome: Measurement) -> verdict.Verdict:
        if outcome.verdict.status != verdict.KEEP:
            return outcome.verdict
        for text in self.settings.constraint:
            rule = parse_constraint(text)
            value = outcome.metrics.get(rule.name)
            if value is not None and not rule.allows(value):
                return verdict.Verdict(
                    verdict.DISCARD,
                    f"violates {rule} ({value:g})",
                    mean=outcome.verdict.mean,
                    runs=outcome.verdict.runs,
                    spread=outcome.verdict.spread,
                )
        return outcome.verdict

    def run_holdout(self, outcome: Measurement) -> None:
        """The hidden check: run after a keep only, recorded, never shown to the agent."""
        settings = self.settings
        log_path = self.session.files.archived_log(self.number, self.commit, ".holdout")
        name = settings.holdout_metric or settings.metric
        _, readings, crash = run_and_read(
            self.session,
            settings.holdout or "",
            log_path,
            self.environment(0),
            {name: default_pattern(name)},
        )
        if crash is None:
            outcome.holdout = readings[name].value
        else:
            outcome.holdout_note = f"holdout {crash}"
