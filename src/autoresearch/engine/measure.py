"""One run of a candidate, between two checks of the protected files, and what it showed; the
constraints and the holdout run after a keep. (``judging`` runs these until the verdict.)

It is given what it needs in a ``MeasureJob`` record, never the session itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from autoresearch.engine import confine
from autoresearch.engine.run_environment import run_environment
from autoresearch.errors import UserError
from autoresearch.rules import stats, verdict
from autoresearch.rules.metrics import Pattern, Reading, default_pattern, read_metrics
from autoresearch.rules.settings import Settings
from autoresearch.store import guard, runner, signals
from autoresearch.store.executors import (
    UNWATCHED,
    Executor,
    LocalExecutor,
    Ran,
    RunRequest,
    Watch,
)
from autoresearch.store.file_watch import watching
from autoresearch.store.files import (
    SessionFiles,
    link_run_log,
    read_json,
    write_json,
)
from autoresearch.store.sandbox import Policy

if TYPE_CHECKING:
    from autoresearch.engine.evaluation import EvaluationJob

SEED_STRIDE = 1000
REFERENCE_SEEDS = SEED_STRIDE // 2  # the keep ref's runs in an experiment: seeds of their own


class MeasureJob(NamedTuple):
    """What measuring one candidate needs to know of its session and of the experiment."""

    repo: str
    files: SessionFiles
    settings: Settings
    patterns: Mapping[str, Pattern]
    protected: Mapping[str, Mapping[str, Any]]
    number: int
    commit: str
    base: str  # the keep ref it is judged against
    best: float | None  # the base's metric; None: this is the first measurement
    inflight: Mapping[str, Any]  # the in-flight file, completed with each run's process
    watch: Watch = UNWATCHED
    first: RunOutcome | None = None  # a run made already (init's check): it counts as run 1
    executor: Executor | None = None  # where the runs happen; None: in the repository itself
    devices: tuple[str, ...] = ()
    inflight_path: str | None = None  # where the in-flight file goes (default: the session's)
    confine: Policy | None = None  # the sandbox of its runs
    # Pins edits found in the user's tree under a ref and names it (the session's abandoned/N).
    pin_edits: Callable[[str], str] | None = None


class Measurement(NamedTuple):
    """What the runs of one candidate showed, and the verdict they earned."""

    verdict: verdict.Verdict
    values: tuple[float, ...] = ()
    metrics: Mapping[str, float | None] = {}
    seconds: float = 0.0
    interrupted: bool = False
    log: str | None = None
    holdout: float | None = None
    holdout_note: str | None = None
    references: tuple[float, ...] = ()  # the keep ref's runs made between the candidate's
    notes: tuple[str, ...] = ()  # what became of edits found in the tree between its runs

    @property
    def spread(self) -> float | None:
        return stats.stdev(self.values) if len(self.values) > 1 else None


class RunOutcome(NamedTuple):
    """One run: its metrics, or why it crashed."""

    readings: Mapping[str, Reading]
    crash: str | None
    seconds: float = 0.0
    interrupted: bool = False
    hidden: tuple[str, ...] = ()  # untracked files kept from it (a run in place)
    converted: tuple[str, ...] = ()  # tracked files shown to it as their checkout has them


def in_place(job: MeasureJob) -> LocalExecutor:
    """Where a run in place goes: the user's tree, but for the untracked files made or changed
    since the session's last run (see ``store.untracked``)."""
    return LocalExecutor(job.repo, unseen=confine.in_place(job.files, job.settings, job.protected))


def run_once(job: MeasureJob, index: int, reference: bool = False) -> RunOutcome:
    """One run of the candidate (``reference``: of the keep ref, ``job.commit`` being the keep
    ref's), between two checks of the protected files."""
    suffix = f".run{index + 1}" if index else ""
    log_path = job.files.archived_log(job.number, job.commit, suffix)
    os.makedirs(job.files.logs, exist_ok=True)
    open(log_path, "ab").close()  # run.log names it before the run writes a line
    link_run_log(job.files, log_path)
    tampered = check_protected(job, "before the run")
    if tampered:
        return RunOutcome({}, tampered)
    # Recorded before the run starts, so that a kill of the tool at any moment finds every
    # process of it by this id. Not fsynced, as when first written: a process only matters
    # while the machine stays up.
    # The protected files' write permissions are recorded too, to be put back after a kill.
    run_id = runner.new_run_id()
    modes = guard.writable_modes(job.repo, job.protected)
    where = {"run_id": run_id, "run": index, "log": str(log_path), "modes": modes}
    if reference:
        where["reference"] = job.commit
    inflight_path = job.inflight_path or job.files.inflight_json
    write_json(inflight_path, {**job.inflight, **where}, durable=False)

    def started(group: int) -> None:
        write_json(inflight_path, {**job.inflight, **where, "group": group}, durable=False)
        if job.watch.on_start is not None:
            job.watch.on_start(group)

    with guard.read_only(job.repo, modes), watching(job.repo, job.protected) as writes:

        def tick(elapsed: float) -> None:
            writes.collect()
            if job.watch.on_tick is not None:
                job.watch.on_tick(elapsed)

        request = RunRequest(
            job.commit,
            job.settings.run,
            log_path,
            job_environment(job, index + (REFERENCE_SEEDS if reference else 0)),
            job.settings.kill_after,
            job.devices,
            run_id,
            job.confine,
        )
        place = job.executor or in_place(job)
        result, readings, crash = run_and_score(job, place, request, Watch(started, tick))
    written = sorted(writes.touched)
    crash = (
        check_protected(job, "during the run")
        or (f"protected file written during the run: {', '.join(written)}" if written else None)
        or crash
    )
    return RunOutcome(
        readings, crash, result.seconds, result.interrupted, result.hidden, result.converted
    )


def run_and_score(
    job: MeasureJob, place: Executor, request: RunRequest, watch: Watch
) -> tuple[Ran, dict[str, Reading], str | None]:
    """The run and its metrics: read from its log or, with a trusted evaluation, from the
    evaluation's output alone (nothing the run prints is read as a metric)."""
    if not job.settings.eval:
        return run_and_read(place, request, job.patterns, watch)
    # Only a session with --eval loads the evaluation (and shutil): every other `try` would
    # pay ~0.5 ms for it.
    from autoresearch.engine.evaluation import clear_outputs

    clear_outputs(evaluation_job(job))
    result, _, crash = run_and_read(place, request, {}, watch)
    if crash is not None:
        return result, {}, crash
    log_path = request.log_path[: -len(".log")] + ".eval.log"
    evaluation = request._replace(command=job.settings.eval, log_path=log_path)
    readings, crash = run_evaluation(job, evaluation, job.patterns)
    return result, readings, None if crash is None else f"evaluation: {crash}"


def run_evaluation(
    job: MeasureJob, request: RunRequest, patterns: Mapping[str, Pattern]
) -> tuple[dict[str, Reading], str | None]:
    """The metrics as a trusted command (``request``'s) reads them from what the run left."""
    from autoresearch.engine.evaluation import evaluate  # as in run_and_score

    ran, missing = evaluate(evaluation_job(job), request.command, request.log_path, request.env)
    if ran is None:
        return {}, missing
    readings, ran = read_run_log(request.log_path, patterns, ran)
    return readings, crash_reason(ran, readings, job.settings.kill_after)


def evaluation_job(job: MeasureJob) -> EvaluationJob:
    from autoresearch.engine.evaluation import EvaluationJob  # as in run_and_score

    workdir = job.executor.workdir if job.executor is not None else job.repo
    return EvaluationJob(
        job.repo,
        job.files,
        job.settings,
        job.protected,
        workdir,
        job.number,
        job.commit,
        job.devices,
        job.confine,
    )


def job_environment(job: MeasureJob, index: int) -> dict[str, str]:
    """A run's environment, with a seed of its own for each run of each experiment."""
    seed = job.number * SEED_STRIDE + index
    return run_environment(job.settings, job.commit, str(job.number), seed)


def run_and_read(
    where: Executor,
    request: RunRequest,
    patterns: Mapping[str, Pattern],
    watch: Watch = UNWATCHED,
) -> tuple[Ran, dict[str, Reading], str | None]:
    """Run a command ``where`` it goes, within its time limit; read its metrics, say why it
    crashed."""
    result = where.run(request, watch)
    readings, result = read_run_log(request.log_path, patterns, result)
    return result, readings, crash_reason(result, readings, request.kill_after)


def read_run_log(
    log_path: str, patterns: Mapping[str, Pattern], result: Ran
) -> tuple[dict[str, Reading], Ran]:
    """The run's metrics. Ctrl-C acts at once while they are read, as during the run: a pattern
    slow on a long line must not keep the tool from stopping, and the run is then interrupted."""
    try:
        with signals.allowed():
            return read_metrics(runner.lines_from_end(log_path), patterns), result
    except KeyboardInterrupt:
        return {}, result._replace(interrupted=True)


def crash_reason(
    result: Ran, readings: Mapping[str, Reading], kill_after: float | None
) -> str | None:
    """Why a run counts as a crash, or None when it gave every metric."""
    if result.lost:
        return f"worker lost: {result.failure}" if result.failure else "worker lost"
    if result.interrupted:
        return "interrupted"
    if result.late:
        return "a process the run left behind wrote to its log after the run ended"
    if result.timed_out:
        return f"timeout after {kill_after:g} s"
    if result.failure:
        return result.failure
    if result.exit_code:
        if result.exit_code < 0:
            return f"killed by signal {-result.exit_code}"
        return f"exit {result.exit_code}"
    problems = [r.problem for r in readings.values() if r.problem]
    return problems[0] if problems else None


def check_protected(job: MeasureJob, when: str) -> str | None:
    """A crash reason when a protected file differs from its fingerprint (it is put back)."""
    if not job.protected:
        return None
    intact = _read_intact(job.files.protected_intact)
    before = {path: list(times) for path, times in intact.items()}
    differing = guard.changed(job.repo, job.protected, intact)
    if intact != before:
        write_json(job.files.protected_intact, intact, durable=False)
    if not differing:
        return changed_where_run(job, when)
    lost = guard.restore(job.repo, differing, job.protected, job.files.protected_backup)
    note = f" (could not restore: {', '.join(lost)})" if lost else ""
    return f"protected file changed {when}: {', '.join(differing)}{note}"


def changed_where_run(job: MeasureJob, when: str) -> str | None:
    """A crash reason when a run changed a protected file in the checkout it ran in (the next
    run there starts from a clean checkout, so nothing needs putting back)."""
    workdir = job.executor.workdir if job.executor is not None else job.repo
    if workdir == job.repo or not os.path.isdir(workdir):
        return None
    present = {p: f for p, f in job.protected.items() if os.path.lexists(os.path.join(workdir, p))}
    differing = guard.changed(workdir, present) if present else []
    return f"protected file changed {when}: {', '.join(differing)}" if differing else None


def _read_intact(path: str) -> dict[str, list[int]]:
    """The cache of intact large files; an unreadable one is as good as none (all get hashed)."""
    try:
        found = read_json(path)
    except UserError:
        return {}
    return found if isinstance(found, dict) else {}


def apply_constraints(
    settings: Settings, decided: verdict.Verdict, metrics: Mapping[str, float | None]
) -> verdict.Verdict:
    """A keep that breaks a guardrail (``--constraint``) is a discard, saying which."""
    if decided.status != verdict.KEEP:
        return decided
    for rule in settings.parsed.constraints:
        value = metrics.get(rule.name)
        if value is not None and not rule.allows(value):
            return decided._replace(status=verdict.DISCARD, reason=f"violates {rule} ({value:g})")
    return decided


def run_holdout(job: MeasureJob) -> tuple[float | None, str | None]:
    """The hidden check, run after a keep only: its value, or a note saying why there is none."""
    settings = job.settings
    name = settings.holdout_metric or settings.metric
    log_path = job.files.archived_log(job.number, job.commit, ".holdout")
    request = RunRequest(
        "HEAD", settings.holdout or "", log_path, job_environment(job, 0), settings.kill_after
    )._replace(confine=job.confine)
    patterns = {name: default_pattern(name)}
    if settings.eval:  # as the evaluation runs: from the protected files and the outputs alone
        readings, crash = run_evaluation(job, request, patterns)
    else:
        place = job.executor if job.executor is not None else in_place(job)
        _, readings, crash = run_and_read(place, request, patterns)
    if crash is not None:
        return None, f"holdout {crash}"
    return readings[name].value, None
