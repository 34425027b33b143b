"""init's check before it freezes: run the command once, before anything is created, and say
what is wrong while it can still be changed (a metric the run does not print, a run that fails,
a budget it does not keep). A run that passes becomes the baseline's first run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from autoresearch.engine.confine import run_policy
from autoresearch.engine.measure import (
    UNWATCHED,
    RunOutcome,
    Watch,
    crash_reason,
)
from autoresearch.engine.run_environment import run_environment, shown_tail
from autoresearch.engine.session import Session
from autoresearch.rules.discovery import Printed, missing_metric, printed_metrics, suggest_budget
from autoresearch.rules.metrics import compile_pattern, default_pattern, read_metrics
from autoresearch.rules.settings import Settings
from autoresearch.store import runner, untracked
from autoresearch.store.executors import Executor, LocalExecutor, Ran, RunRequest
from autoresearch.store.files import first_run_log, link_run_log


class FirstRun(NamedTuple):
    """The run made before the session exists: its outcome, its log, what it printed."""

    result: Ran
    log: str  # outside the repository until the session adopts it
    printed: list[Printed]

    @property
    def tail(self) -> tuple[str, ...]:
        return tuple(shown_tail(self.log, count=20))


class Verdict(NamedTuple):
    """The first run judged: the outcome the baseline takes over, or why nothing can start."""

    outcome: RunOutcome | None
    problem: str | None = None
    tail: tuple[str, ...] = ()
    log: str | None = None  # the whole log of a run that failed, left outside the repository


def run_first(
    repo: str,
    commit: str,
    settings: Settings,
    watch: Callable[[str], Watch] | None = None,
    executor: Executor | None = None,
) -> FirstRun:
    """Run the command once on ``commit`` (HEAD), as the baseline's first run would be run.

    ``watch`` gives, for the run's log file, who wants to know how the run goes; ``executor``
    where it runs (None: in the repository itself)."""
    log = first_run_log(repo, settings.tag)
    env = run_environment(settings, commit, "0", 0)
    watching = watch(log) if watch is not None else UNWATCHED
    # Before the session starts, its protected files are not listed yet: they are the user's.
    confined = run_policy(repo, settings, ())
    request = RunRequest(commit, settings.run, log, env, settings.kill_after, confine=confined)
    where = executor or LocalExecutor(repo)
    result = where.run(request, watching)
    return FirstRun(result, log, printed_metrics(runner.lines_from_end(log)))


def run_problem(first: FirstRun, settings: Settings) -> Verdict | None:
    """Why the run itself failed (whatever it printed), or None."""
    result = first.result
    nothing = "nothing was created"
    if result.interrupted:
        return Verdict(None, f"interrupted during the first run: {nothing}")
    if result.timed_out:
        return Verdict(
            None,
            f"the run was killed after {settings.kill_after:g} s: {nothing}; give a longer "
            "--budget (a run is killed at twice the budget) or --timeout",
            first.tail,
            first.log,
        )
    reason = crash_reason(result, {}, settings.kill_after)
    if reason is not None:
        return Verdict(
            None,
            f"the run failed ({reason}): {nothing}; fix it and init again",
            first.tail,
            first.log,
        )
    return None


def judge_first(first: FirstRun, settings: Settings) -> Verdict:
    """The outcome of the first run under these settings, or why the session cannot start."""
    failed = run_problem(first, settings)
    if failed is not None:
        return failed
    if settings.eval:
        # The metric comes from the trusted evaluation: the baseline's runs make it.
        return Verdict(None)
    patterns = {
        settings.metric: (
            compile_pattern(settings.pattern)
            if settings.pattern
            else default_pattern(settings.metric)
        ),
        **{name: default_pattern(name) for name in settings.also},
    }
    readings = read_metrics(runner.lines_from_end(first.log), patterns)
    for name, reading in readings.items():
        if reading.value is not None:
            continue
        if reading.problem and reading.problem.startswith("no "):
            flag = "--metric" if name == settings.metric else "--also"
            custom = name == settings.metric and settings.pattern is not None
            problem = missing_metric(name, flag, first.printed, custom)
        else:
            problem = f"{name}: {reading.problem}"
        return Verdict(None, f"{problem} (nothing was created)")
    seconds = first.result.seconds
    if settings.budget is not None and seconds > settings.budget:
        return Verdict(
            None,
            f"the run took {seconds:.1f} s, more than the budget of {settings.budget:g} s "
            f"(nothing was created); give --budget {suggest_budget(seconds)}",
        )
    return Verdict(RunOutcome(readings, None, seconds))


def adopt_first_run(session: Session, first: FirstRun) -> None:
    """The first run's log becomes the baseline's first archived log (and ``run.log``)."""
    archived = session.files.archived_log(0, session.meta.start_commit)
    os.makedirs(session.files.logs, exist_ok=True)
    try:
        os.replace(first.log, archived)
    except OSError:  # another file system: copied, then the temporary one removed
        with open(first.log, "rb") as source, open(archived, "wb") as target:
            target.write(source.read())
        os.unlink(first.log)
    link_run_log(session.files, archived)
    # The session's first run is over: untracked files changed after it are hidden from runs
    # in place (``store.untracked``).
    untracked.run_ended(session.files.untracked_seen, (), ())
