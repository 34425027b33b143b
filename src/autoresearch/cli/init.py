"""`autoresearch init`: check the run, then start a session (branch, ledger, frozen settings)
with the run as the baseline's first measurement."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from autoresearch.cli.flags import Commands, setting_flags
from autoresearch.cli.shared import run_one
from autoresearch.engine import preflight
from autoresearch.engine.confine import sandbox_line
from autoresearch.engine.continued import Continued, check_continues, check_same_measure
from autoresearch.engine.measure import RunOutcome
from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.errors import ExitStatus, UserError
from autoresearch.history.trackers import require as require_trackers
from autoresearch.reports.progress import Progress
from autoresearch.reports.terminal import print_tail
from autoresearch.rules.settings import Given, Settings, build_settings, default_tag
from autoresearch.rules.settings_table import flag_values
from autoresearch.rules.verdict import CRASH
from autoresearch.store import git
from autoresearch.store.executors import Executor
from autoresearch.store.files import SessionFiles
from autoresearch.store.settings_file import read_settings_file

# Stands for the metric while the first run shows which ones there are.
UNKNOWN_METRIC = "_metric_to_be_chosen"


def add_parser(commands: Commands) -> None:
    init = commands.add_parser("init", help="check the run, start a session, measure the baseline")
    setting_flags(init, "init")
    init.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="with no metric given: take the one the run printed, its guessed direction and a "
        "budget from the run's time, without asking",
    )
    init.add_argument(
        "--continue",
        dest="continue_tag",
        metavar="TAG",
        help="continue the ended session TAG after a change of the protected harness: start "
        "from a commit on top of its keep ref; the views show both as one history",
    )


def run(args: argparse.Namespace) -> int:
    repo = git.toplevel(args.directory)
    file_values, settings_file = read_settings_file(repo)
    flags = free_tag(repo, flag_values(args), file_values)
    continued = None
    if args.continue_tag is not None:
        continued = check_continues(repo, args.continue_tag, git.head(repo) or "HEAD")
    if args.no_baseline:
        settings = build_settings(file_values, flags)
        require_trackers(settings.track)
        if continued is not None:
            check_same_measure(repo, continued, settings)
        session = Session.start(repo, settings, settings_file, continues=_json(continued))
        print_started(session)
        print("baseline not run: the first `autoresearch try` measures the starting point")
        return ExitStatus.OK
    discovering = not given(flags, file_values, "metric") and given(flags, file_values, "run")
    chosen = {**flags, "metric": UNKNOWN_METRIC} if discovering else flags
    settings = build_settings(file_values, chosen)
    require_trackers(settings.track)
    if continued is not None and not discovering:
        check_same_measure(repo, continued, settings)  # before the run, not after it
    first = run_first(repo, settings)
    if discovering:
        from autoresearch.cli.init_guess import choose_settings

        refuse(preflight.run_problem(first, settings))
        as_given = Given(file_values, settings_file, flags)
        settings, settings_file = choose_settings(repo, first, settings, as_given, args.yes)
        if continued is not None:  # the metric the run printed
            check_same_measure(repo, continued, settings)
    session, outcome = start_after(repo, first, settings, settings_file, continued=continued)
    print_started(session)
    experiment = run_one(session, "baseline", first=outcome)
    if experiment is None:
        return ExitStatus.INTERRUPTED
    if experiment.status == CRASH:
        print(
            "the baseline crashed: fix the run and `autoresearch try -m ...`; the first "
            "experiment that runs becomes the baseline",
            file=sys.stderr,
        )
        return ExitStatus.FAILED
    return ExitStatus.OK


def start_after(
    repo: str,
    first: preflight.FirstRun,
    settings: Settings,
    settings_file: str | None,
    parallel: bool = False,
    continued: Continued | None = None,
) -> tuple[Session, RunOutcome | None]:
    """The session, started once its first run passed; that run's outcome for the baseline."""
    judged = preflight.judge_first(first, settings)
    refuse(judged)
    session = Session.start(repo, settings, settings_file, parallel, _json(continued))
    preflight.adopt_first_run(session, first)
    return session, judged.outcome


def checked_start(
    repo: str,
    settings: Settings,
    settings_file: str | None,
    parallel: bool = False,
    executor: Executor | None = None,
) -> tuple[Session, RunOutcome | None]:
    """Run the command once, refuse what would fail, then start (what `loop` does too).
    ``executor``: where the check runs (None: in the repository itself)."""
    first = run_first(repo, settings, executor)
    return start_after(repo, first, settings, settings_file, parallel)


def run_first(
    repo: str, settings: Settings, executor: Executor | None = None
) -> preflight.FirstRun:
    """The run before anything is created, once nothing else stands in the way of a start."""
    commit = Session.check_start(repo, settings)
    progress = Progress.for_terminal()
    if progress is None:
        return preflight.run_first(repo, commit, settings, executor=executor)
    try:
        return preflight.run_first(
            repo,
            commit,
            settings,
            lambda log: progress.watch("checking the run", settings.budget, log, 1),
            executor,
        )
    finally:
        progress.close()


def _json(continued: Continued | None) -> dict[str, str] | None:
    return None if continued is None else continued.to_json()


def free_tag(repo: str, flags: dict[str, Any], file_values: dict[str, Any]) -> dict[str, Any]:
    """Without a tag given, the date; after an ended session of that date, ``dec2-2`` and on."""
    if given(flags, file_values, "tag"):
        return flags
    base = tag = default_tag()
    number = 1
    while git.branch_exists(repo, BRANCH_PREFIX + tag) or SessionFiles(repo, tag).exists():
        number += 1
        tag = f"{base}-{number}"
    return {**flags, "tag": tag}


def given(flags: dict[str, Any], file_values: dict[str, Any], key: str) -> bool:
    return bool(flags.get(key) or file_values.get(key))


def refuse(judged: preflight.Verdict | None) -> None:
    """Nothing starts on a run that failed: its log's tail, then the reason in one line."""
    if judged is None or judged.problem is None:
        return
    if judged.tail:
        print_tail(list(judged.tail), sys.stderr)
    if judged.log:
        print(f"the whole log: {judged.log}", file=sys.stderr)
    raise UserError(judged.problem)


def print_started(session: Session) -> None:
    settings: Settings = session.settings
    scope = (
        ", ".join(settings.scope)
        if settings.scope
        else f"{len(session.meta.scope_files)} tracked files"
    )
    protected = ", ".join(settings.protect) or "none"
    print(
        f"session {settings.tag} on branch autoresearch/{settings.tag} · {settings.metric} "
        f"({settings.direction}) · scope: {scope} · protected: {protected}"
    )
    print(sandbox_line(settings))
    continues = session.meta.continues
    if continues is not None:
        print(
            f"continues session {continues['tag']} (keep ref {continues['keep'][:7]}): its numbers "
            "came from the harness before the change and are shown apart, not compared"
        )
