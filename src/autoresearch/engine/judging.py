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
from autoresearch.rules.noise import noise_sigma, reference_runs
from autoresearch.store.files import append_run, read_runs

# A noise-aware session learns its noise from the baseline, measured this many times: of three
# runs one can be a load spike and the other two still say what the noise is.
BASELINE_RUNS = 3
# When none of the session's latest this many runs is the keep ref's, it runs again before the
# candidate's first run: a first run judged against a reference the machine has drifted from
# discarded a fifth of the real 2-sigma gains (bench/verdicts.py, drift).
STALE_AFTER_RUNS = 16


def measure_and_judge(
    job: MeasureJob, baseline: float | None, lines: Callable[[], tuple[int, int]]
) -> Measurement:
    """Run until the verdict is reached (``baseline``: the session's first kept value, for
    amounts given in percent). ``lines`` gives the lines added and removed; it is asked once the
    first run is over, so that working them out overlaps the run."""
    settings, keep, best = job.settings, job.base, job.best
    recorded = read_runs(job.files)
    made: list[dict[str, Any]] = []  # this experiment's runs, the candidate's and the keep ref's
    first_measurement = best is None
    bars = dict(
        direction=settings.direction,
        min_delta=settings.parsed.min_delta.of(baseline),
        max_runs=max(1, settings.repeats),
        complexity_cost=settings.parsed.complexity_cost.of(baseline),
    )
    baseline_runs = BASELINE_RUNS if first_measurement and settings.noise == "auto" else 1
    interleaving = not first_measurement and settings.noise != "off"
    values: list[float] = []
    references: list[float] = []
    pinned: list[str] = []  # where edits found in the tree between runs are kept
    sums: dict[str, float] = {}
    seconds = 0.0
    counted: tuple[int, int] | None = None
    log = job.files.archived_log(job.number, job.commit)
    first = job.first

    def crashed(outcome: RunOutcome) -> Measurement:
        return Measurement(
            verdict.Verdict(verdict.CRASH, outcome.crash or "crash"),
            tuple(values),
            dict.fromkeys(job.patterns),
            seconds,
            outcome.interrupted,
            log,
            references=tuple(references),
            notes=_edits_note(pinned),
        )

    def keep_ref_again() -> RunOutcome | None:
        """A run of the keep ref, recorded; the outcome when it was interrupted."""
        nonlocal interleaving, seconds
        again = run_reference(job, len(references), pinned)
        seconds += again.seconds if again else 0.0
        if again is not None and again.interrupted:
            return again
        if again is None or again.crash is not None:
            # The keep ref's own crash says nothing of the candidate: it is judged on the
            # reference it has, and the keep ref is not run again in this experiment.
            interleaving = False
            return None
        value = again.readings[settings.metric].value
        assert value is not None
        made.append(_run(job, job.base, len(references), value))
        references.append(value)
        return None

    # Only where noise is judged: a deterministic metric's first run says all there is.
    if interleaving and noise_sigma(settings, recorded, keep) and _stale(recorded, keep):
        stopped = keep_ref_again()
        if stopped is not None:
            return crashed(stopped)
    while True:
        if values and interleaving:
            stopped = keep_ref_again()
            if stopped is not None:
                return crashed(stopped)
        if values and job.executor is None and job.pin_edits is not None:
            # What the last run (or anyone) wrote in the tree is not what this run measures.
            _keep(pinned, candidate_in_tree(job.repo, job.commit, job.pin_edits))
        outcome = first or run_once(job, len(values))
        first = None
        seconds += outcome.seconds
        if outcome.crash is not None:
            return crashed(outcome)
        value = outcome.readings[settings.metric].value
        assert value is not None
        made.append(_run(job, job.commit, len(values), value))
        values.append(value)
        for name, reading in outcome.readings.items():
            sums[name] = sums.get(name, 0.0) + float(reading.value or 0.0)
        if first_measurement:
            if len(values) < baseline_runs:
                continue
            decided: verdict.Verdict | None = verdict.Verdict(
                verdict.KEEP, "first measurement", mean=stats.mean(values), runs=len(values)
            )
        else:
            counted = counted or lines()
            runs = [*recorded, *made]
            decided = verdict.judge(
                verdict.Evidence(
                    candidate=tuple(values),
                    reference=reference_runs(runs, keep, best),
                    sigma=noise_sigma(settings, runs, keep),
                    lines_added=counted[0],
                    lines_removed=counted[1],
                    **bars,
                )
            )
        if decided is not None:
            break
    metrics = {name: total / len(values) for name, total in sums.items()}
    if decided.mean is not None:  # the runs the verdict rests on, spikes set aside
        metrics[settings.metric] = decided.mean
    if not first_measurement:
        decided = apply_constraints(settings, decided, metrics)
    measured = Measurement(
        decided,
        tuple(values),
        metrics,
        seconds,
        log=log,
        references=tuple(references),
        notes=_edits_note(pinned),
    )
    if decided.status == verdict.KEEP and settings.holdout:
        holdout, note = run_holdout(job)
        measured = measured._replace(holdout=holdout, holdout_note=note)
    return measured


def _stale(recorded: list[dict[str, Any]], keep: str) -> bool:
    """Whether none of the session's latest ``STALE_AFTER_RUNS`` runs is the keep ref's."""
    return all(str(run.get("commit")) != keep for run in recorded[-STALE_AFTER_RUNS:])


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


def _edits_note(pinned: list[str]) -> tuple[str, ...]:
    if not pinned:
        return ()
    return (f"edits made to tracked files between its runs: kept at {', '.join(pinned)}",)


def _run(job: MeasureJob, commit: str, index: int, value: float) -> dict[str, Any]:
    """One run, written to runs.jsonl (flushed) as it is made."""
    run = {"experiment": job.number, "commit": commit, "run": index, "value": value}
    append_run(job.files, run)
    return run
