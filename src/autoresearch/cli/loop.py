"""`autoresearch loop`: let an agent drive, one experiment per call, until a stop condition."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from autoresearch.cli.flags import Commands, loop_flags, session_flags, worker_flags
from autoresearch.cli.init import checked_start
from autoresearch.cli.shared import run_one
from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.engine.workers import WorkerPlan, build_executors, plan_workers
from autoresearch.errors import ExitStatus
from autoresearch.history.trackers import require as require_trackers
from autoresearch.loop.driver import Loop, LoopReport
from autoresearch.loop.launch import (
    build_loop_agent,
    check_knobs,
    existing_session,
    loop_options,
    program_path,
    stop_rules,
)
from autoresearch.loop.parallel import ParallelLoop
from autoresearch.loop.tracking import Tracking
from autoresearch.reports.progress import Progress
from autoresearch.reports.status import session_status
from autoresearch.reports.terminal import status_lines
from autoresearch.rules.settings import build_settings, flag_values, parse_trackers
from autoresearch.rules.verdict import CRASH
from autoresearch.store import git
from autoresearch.store.executors.worktree import WorktreeExecutor
from autoresearch.store.settings_file import read_settings_file


def add_parser(commands: Commands) -> None:
    loop = commands.add_parser("loop", help="let an agent drive: one experiment per call")
    session_flags(loop)
    loop_flags(loop)
    worker_flags(loop)


def find_or_start(
    repo: str,
    tag: str | None,
    flags: Mapping[str, Any],
    no_baseline: bool = False,
    plan: WorkerPlan | None = None,
) -> Session | None:
    """The session to continue, or a new one set up like `init` (None if its baseline crashed).
    The baseline runs where the loop's runs will (``plan``; None: in the repository)."""
    session = existing_session(repo, tag)
    if session is not None:
        return session
    file_values, settings_file = read_settings_file(repo)
    settings = build_settings(file_values, flags)
    if no_baseline:
        session = Session.start(repo, settings, settings_file, bool(plan and plan.parallel))
        print(f"session {settings.tag} started on branch {BRANCH_PREFIX}{settings.tag}")
        return session
    parallel = bool(plan and plan.parallel)
    # The check runs as the loop's runs will: in a clean checkout, unless they run in place.
    checking = None
    if plan is not None and not plan.in_place:
        place = tempfile.mkdtemp(prefix="autoresearch-check-")
        devices = plan.device_sets[0] if plan.device_sets else ()
        checking = WorktreeExecutor(repo, place, plan.links, devices)
    try:
        session, first = checked_start(repo, settings, settings_file, parallel, checking)
    finally:
        if checking is not None:
            checking.close()
    print(f"session {settings.tag} started on branch {BRANCH_PREFIX}{settings.tag}")
    executor = build_executors(session, plan)[0] if plan is not None else None
    if plan is not None and plan.executor == "ray":
        first = None  # checked here; the baseline itself runs on the cluster, with its GPUs
    try:
        baseline = run_one(session, "baseline", first=first, executor=executor)
    finally:
        if executor is not None:
            executor.close()
    if baseline is None or baseline.status == CRASH:
        return None
    return session


def terminal_report() -> LoopReport:
    progress = Progress.for_terminal()
    if progress is None:
        return LoopReport(say=lambda text: print(text, flush=True))
    return LoopReport(say=progress.say, progress=progress)


def run_loop(
    session: Session,
    options: Mapping[str, Any],
    agent_name: str | None,
    seed: int | None,
    plan: WorkerPlan | None = None,
    track: Sequence[str] = (),
) -> int:
    session.require_run()
    file_values, _ = read_settings_file(session.repo)
    agent, name = build_loop_agent(session, options, file_values, agent_name, seed)
    program = program_path(options)
    report = terminal_report()
    plan = plan or plan_workers(session.repo, options)
    report.say(
        f"loop: agent {name} on session {session.tag}; Ctrl-C stops after the running experiment"
    )
    known = {"agent": name, "model": options.get("model")}
    tracking = start_tracking(session, track, report, known)
    executors = build_executors(session, plan)
    rules = stop_rules(options)
    try:
        if plan.parallel:
            ParallelLoop(
                session, agent, name, rules, report, program, executors, plan, tracking
            ).run()
        else:
            Loop(session, agent, name, rules, report, program, executors[0], tracking).run()
    finally:
        for executor in executors:
            executor.close()
        if tracking is not None:
            tracking.close()
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


def start_tracking(
    session: Session, track: Sequence[str], report: LoopReport, known: Mapping[str, Any]
) -> Tracking | None:
    """The session's trackers and those named with --track now, sending in the background."""
    names = list(dict.fromkeys([*session.settings.track, *parse_trackers(list(track))]))
    if not names:
        return None
    require_trackers(names)
    tracking = Tracking(session.files, names, report.say, known)
    tracking.start()
    report.say(f"tracking: every experiment goes to {', '.join(names)} too")
    return tracking


def run(args: argparse.Namespace) -> int:
    repo = git.toplevel(args.directory)
    file_values, _ = read_settings_file(repo)
    options = loop_options(vars(args), file_values)
    stop_rules(options)  # refuse bad numbers before anything is started
    track = parse_trackers(args.track or file_values.get("track"))
    require_trackers(track)
    plan = plan_workers(repo, options)
    check_knobs(repo, file_values, args.agent or options.get("agent"))
    session = find_or_start(repo, args.tag, flag_values(args), args.no_baseline, plan)
    if session is None:
        print(
            "the baseline crashed: fix the run first (the session is ready for "
            "`autoresearch try` or another `loop`)",
            file=sys.stderr,
        )
        return ExitStatus.FAILED
    return run_loop(session, options, args.agent, args.seed, plan, track)
