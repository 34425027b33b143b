"""Measure and judge one candidate: run it, again while the verdict needs more evidence with a
run of the keep ref before each further run (see ``reference``), each run of exactly the commit
it is recorded as; judge it after each run, apply the constraints, and run the holdout after a
keep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autoresearch.engine.measure import (
    MeasureJob,
    Measurement,
    RunOutcome,
    apply_constraints,
    run_holdout,
    run_once,
)
from autoresearch.engine.reference import candidate_in_tree, keep_ref_in_tree
from autoresearch.rules import stats, verdict
from autoresearch.rules.formatting import first_of
from autoresearch.rules.noise import noise_sigma, reference_runs
from autoresearch.store.files import append_run, read_runs

# A noise-aware session learns its noise from the baseline, measured this many times: of three
# runs one can be a load spike and the other two still say what the noise is.
BASELINE_RUNS = 3
# When none of the session's latest this many runs is the keep ref's, it runs again before the
# candidate's first run: a first run judged against a reference the machine has drifted from
# discarded a fifth of the real 2-sigma gains (bench/verdicts.py, drift).
STALE_AFTER_RUNS = 16


class _Runs:
    """What one experiment has measured so far: the candidate's runs and the keep ref's between
    them, each written to runs.jsonl as it is made; the edits pinned on the way."""

    def __init__(self, job: MeasureJob) -> None:
        self.job = job
        self.recorded = read_runs(job.files)  # the session's runs before this experiment
        self.made: list[dict[str, Any]] = []
        self.values: list[float] = []
        self.references: list[float] = []
        self.sums: dict[str, float] = {}
        self.pinned: list[str] = []
        self.hidden: set[str] = set()
        self.converted: set[str] = set()
        self.seconds = 0.0
        # The keep ref runs again only where noise is judged, and not after one of its runs
        # crashed (that says nothing of the candidate).
        self.keep_ref_runs = job.best is not None and job.settings.noise != "off"

    def runs(self) -> list[dict[str, Any]]:
        return [*self.recorded, *self.made]

    def keep_ref_is_stale(self) -> bool:
        """Whether the session judges noise and none of its latest runs is the keep ref's."""
        latest = self.recorded[-STALE_AFTER_RUNS:]
        if not self.keep_ref_runs or any(str(run.get("commit")) == self.job.base for run in latest):
            return False
        # A deterministic metric's first run says all there is.
        return bool(noise_sigma(self.job.settings, self.recorded, self.job.base))

    def run_keep_ref(self) -> RunOutcome | None:
        """One run of the keep ref, recorded; its outcome when it was interrupted, else None."""
        again = run_reference(self.job, len(self.references), self.pinned)
        if again is None or again.crash is not None:
            self.keep_ref_runs = False
        if again is None:
            return None
        self.seconds += again.seconds
        self.hidden.update(again.hidden)
        self.converted.update(again.converted)
        if again.interrupted:
            return again
        if again.crash is None:
            value = self._record(self.job.base, len(self.references), again)
            self.references.append(value)
        return None

    def run_candidate(self) -> RunOutcome:
        """The candidate's next run (the tree brought back to it first), recorded unless it
        crashed; the first may have been made already (init's check)."""
        job = self.job
        if self.values and job.executor is None and job.pin_edits is not None:
            # What the last run (or anyone) wrote in the tree is not what this run measures.
            _keep(self.pinned, candidate_in_tree(job.repo, job.commit, job.pin_edits))
        outcome = (None if self.values else job.first) or run_once(job, len(self.values))
        self.seconds += outcome.seconds
        self.hidden.update(outcome.hidden)
        self.converted.update(outcome.converted)
        if outcome.crash is None:
            self.values.append(self._record(job.commit, len(self.values), outcome))
            for name, reading in outcome.readings.items():
                self.sums[name] = self.sums.get(name, 0.0) + float(reading.value or 0.0)
        return outcome

    def _record(self, commit: str, index: int, outcome: RunOutcome) -> float:
        value = outcome.readings[self.job.settings.metric].value
        assert value is not None
        run = {"experiment": self.job.number, "commit": commit, "run": index, "value": value}
        append_run(self.job.files, run)
        self.made.append(run)
        return value

    def measurement(
        self, decided: verdict.Verdict, metrics: dict[str, float | None]
    ) -> Measurement:
        return Measurement(
            decided,
            tuple(self.values),
            metrics,
            self.seconds,
            log=self.job.files.archived_log(self.job.number, self.job.commit),
            references=tuple(self.references),
            notes=(
                *_edits_note(self.pinned),
                *_shown_note(self.hidden, self.converted),
            ),
        )

    def crashed(self, outcome: RunOutcome) -> Measurement:
        crash = verdict.Verdict(verdict.CRASH, outcome.crash or "crash")
        measured = self.measurement(crash, dict.fromkeys(self.job.patterns))
        return measured._replace(interrupted=outcome.interrupted)


def measure_and_judge(
    job: MeasureJob, baseline: float | None, lines: Callable[[], tuple[int, int]]
) -> Measurement:
    """Run until the verdict is reached (``baseline``: the session's first kept value, for
    amounts given in percent). ``lines`` gives the lines added and removed; it is asked once the
    first run is over, so that working them out overlaps the run."""
    settings = job.settings
    first_measurement = job.best is None
    runs = _Runs(job)
    counted: tuple[int, int] | None = None
    if runs.keep_ref_is_stale() and (stopped := runs.run_keep_ref()) is not None:
        return runs.crashed(stopped)
    while True:
        if runs.values and runs.keep_ref_runs and (stopped := runs.run_keep_ref()) is not None:
            return runs.crashed(stopped)
        outcome = runs.run_candidate()
        if outcome.crash is not None:
            return runs.crashed(outcome)
        if first_measurement:
            wanted = BASELINE_RUNS if settings.noise == "auto" else 1
            if len(runs.values) < wanted:
                continue
            decided: verdict.Verdict | None = verdict.Verdict(
                verdict.KEEP, "first measurement", stats.mean(runs.values), len(runs.values)
            )
        else:
            counted = counted or lines()
            decided = verdict.judge(_evidence(job, runs, baseline, counted))
        if decided is not None:
            break
    metrics: dict[str, float | None] = {
        name: total / len(runs.values) for name, total in runs.sums.items()
    }
    if decided.mean is not None:  # the runs the verdict rests on, spikes set aside
        metrics[settings.metric] = decided.mean
    if not first_measurement:
        decided = apply_constraints(settings, decided, metrics)
    measured = runs.measurement(decided, metrics)
    if decided.status == verdict.KEEP and settings.holdout:
        holdout, note = run_holdout(job)
        measured = measured._replace(holdout=holdout, holdout_note=note)
    return measured


def _evidence(
    job: MeasureJob, runs: _Runs, baseline: float | None, counted: tuple[int, int]
) -> verdict.Evidence:
    settings, every = job.settings, runs.runs()
    return verdict.Evidence(
        candidate=tuple(runs.values),
        reference=reference_runs(every, job.base, job.best),
        sigma=noise_sigma(settings, every, job.base),
        direction=settings.direction,
        min_delta=settings.parsed.min_delta.of(baseline),
        max_runs=max(1, settings.repeats),
        complexity_cost=settings.parsed.complexity_cost.of(baseline),
        lines_added=counted[0],
        lines_removed=counted[1],
    )


def run_reference(job: MeasureJob, index: int, pinned: list[str]) -> RunOutcome | None:
    """Run ``index`` of the keep ref in this experiment; None when the user's tree could not be
    brought to it without touching a file in the way. Edits found in the tree go to a ref named
    in ``pinned``."""
    again = job._replace(commit=job.base, first=None)
    if job.executor is not None:  # a checkout of its own, brought to each run's commit
        return run_once(again, index, reference=True)
    pin_edits = job.pin_edits
    if pin_edits is None:
        return None

    def pin(edits: str) -> str:
        return _keep(pinned, pin_edits(edits)) or ""

    _keep(pinned, candidate_in_tree(job.repo, job.commit, pin_edits))
    with keep_ref_in_tree(job.repo, job.base, job.commit, pin) as switched:
        return run_once(again, index, reference=True) if switched else None


def _keep(pinned: list[str], ref: str | None) -> str | None:
    if ref:
        pinned.append(ref)
    return ref


def _shown_note(hidden: set[str], converted: set[str]) -> tuple[str, ...]:
    """What its runs in place were not shown as the tree has it (``store.untracked``)."""
    notes = []
    if hidden:
        notes.append(
            f"not shown to its runs: {first_of(sorted(hidden))} (untracked, made or changed "
            "since the session's last run; no commit holds them)"
        )
    if converted:
        notes.append(
            "shown to its runs as a checkout of its commit has them: "
            f"{first_of(sorted(converted))} (a text conversion left other bytes on disk)"
        )
    return tuple(notes)


def _edits_note(pinned: list[str]) -> tuple[str, ...]:
    if not pinned:
        return ()
    return (f"edits made to tracked files between its runs: kept at {', '.join(pinned)}",)
