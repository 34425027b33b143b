"""`autoresearch loop`: let an agent drive, one experiment per call, until a stop condition."""

from __future__ import annotations

import argparse
import sys

from autoresearch.cli.flags import Commands, setting_flags
from autoresearch.cli.init import checked_start
from autoresearch.cli.shared import run_one
from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.engine.workers import check_place, first_worker, refuse_evaluation_on_ray
from autoresearch.errors import ExitStatus
from autoresearch.loop.driver import LoopReport
from autoresearch.loop.launch import (
    LoopRequest,
    existing_session,
    loop_request,
    refuse_idle_agent,
    running,
)
from autoresearch.reports.progress import Progress
from autoresearch.reports.status import session_status
from autoresearch.reports.terminal import status_lines
from autoresearch.rules.formatting import printable
from autoresearch.rules.settings import build_settings
from autoresearch.rules.verdict import CRASH
from autoresearch.store import git


def add_parser(commands: Commands) -> None:
    loop = commands.add_parser("loop", help="let an agent drive: one experiment per call")
    setting_flags(loop, "loop")


def find_or_start(request: LoopRequest) -> Session | None:
    """The session to continue, or a new one set up like `init` (None if its baseline crashed).
    The baseline runs where the loop's runs will."""
    repo, given, plan = request.repo, request.given, request.plan
    session = existing_session(
        repo,
        given.flags.get("tag"),
        lambda found: refuse_idle_agent(request, found.scope, found.settings.knobs),
    )
    if session is not None:
        return session
    settings = build_settings(given.file_values, given.flags)
    refuse_evaluation_on_ray(settings, plan)
    refuse_idle_agent(
        request, Session.planned_scope(repo, settings, given.settings_file), settings.knobs
    )
    if request.no_baseline:
        session = Session.start(repo, settings, given.settings_file, plan.parallel)
        print(f"session {settings.tag} started on branch {BRANCH_PREFIX}{settings.tag}")
        return session
    with check_place(repo, plan) as checking:
        session, first = checked_start(repo, settings, given.settings_file, plan.parallel, checking)
    print(f"session {settings.tag} started on branch {BRANCH_PREFIX}{settings.tag}")
    if plan.executor == "ray":
        first = None  # checked here; the baseline itself runs on the cluster, with its GPUs
    with first_worker(session, plan) as executor:
        baseline = run_one(session, "baseline", first=first, executor=executor)
    if baseline is None or baseline.status == CRASH:
        return None
    return session


def terminal_report() -> LoopReport:
    progress = Progress.for_terminal()
    if progress is None:
        return LoopReport(say=lambda text: print(printable(text), flush=True))
    return LoopReport(say=lambda text: progress.say(printable(text)), progress=progress)


def run_loop(session: Session, request: LoopRequest) -> int:
    report = terminal_report()
    try:
        with running(session, request, report) as loop:
            loop.run()
    finally:
        if report.progress is not None:
            report.progress.close()
    summary = session_status(session)
    report.say(f"stopped: {report.stop_reason}")
    for line in status_lines(summary)[:3]:
        report.say(line)
    report.say(f"ledger: {session.files.ledger} · tree at the keep ref {summary['keep_ref']}")
    if report.stopped_now:
        return ExitStatus.INTERRUPTED
    return ExitStatus.FAILED if report.failed else ExitStatus.OK


def run(args: argparse.Namespace) -> int:
    request = loop_request(git.toplevel(args.directory), vars(args))
    session = find_or_start(request)
    if session is None:
        print(
            "the baseline crashed: fix the run first (the session is ready for "
            "`autoresearch try` or another `loop`)",
            file=sys.stderr,
        )
        return ExitStatus.FAILED
    return run_loop(session, request)
