"""`autoresearch loop`: let an agent drive, one experiment per call, until a stop condition."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import Any

from autoresearch.cli.flags import Commands, loop_flags, session_flags, worker_flags
from autoresearch.cli.shared import run_one
from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.engine.workers import WorkerPlan, build_executors, plan_workers
from autoresearch.errors import ExitStatus
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
from autoresearch.reports.status import session_status
from autoresearch.reports.terminal import status_lines
from autoresearch.rules.settings import build_settings, flag_values
from autoresearch.rules.verdict import CRASH
from autoresearch.store import git
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
    session = Session.start(repo, settings, settings_file, bool(plan and plan.parallel))
    print(f"session {settings.tag} started on branch {BRANCH_PREFIX}{settings.tag}")
    if no_baseline:
        return session
    executor = build_executors(session, plan)[0] if plan is not None else None
    try:
        baseline = run_one(session, "baseline", executor=executor)
    finally:
        if executor is not None:
            executor.close()
    if baseline is None or baseline.status == CRASH:
        return None
    return session


def terminal_report() -> LoopReport:
    tty = sys.stdout.isatty()

    def say(text: str) -> None:
        if tty:
            sys.stdout.write("\r\033[K")
        print(text, flush=True)

    tick: Callable[[str], None] | None = None
    if tty:

        def tick(text: str) -> None:
            sys.stdout.write("\r\033[K" + text[:150])
            sys.stdout.flush()

    return LoopReport(say=say, tick=tick)


def run_loop(
    session: Session,
    options: Mapping[str, Any],
    agent_name: str | None,
    seed: int | None,
    plan: WorkerPlan | None = None,
) -> int:
    file_values, _ = read_settings_file(session.repo)
    agent, name = build_loop_agent(session, options, file_values, agent_name, seed)
    program = program_path(options)
    report = terminal_report()
    plan = plan or plan_workers(session.repo, options)
    report.say(
        f"loop: agent {name} on session {session.tag}; Ctrl-C stops after the running experiment"
    )
    executors = build_executors(session, plan)
    try:
        if plan.parallel:
            ParallelLoop(
                session, agent, name, stop_rules(options), report, program, executors, plan
            ).run()
        else:
            Loop(session, agent, name, stop_rules(options), report, program, executors[0]).run()
    finally:
        for executor in executors:
            executor.close()
    summary = session_status(session)
    report.say(f"stopped: {report.stop_reason}")
    for line in status_lines(summary)[:3]:
        report.say(line)
    report.say(f"ledger: {session.files.ledger} · tree at the keep ref {summary['keep_ref']}")
    return ExitStatus.OK


def run(args: argparse.Namespace) -> int:
    repo = git.toplevel(args.directory)
    file_values, _ = read_settings_file(repo)
    options = loop_options(vars(args), file_values)
    stop_rules(options)  # refuse bad numbers before anything is started
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
    return run_loop(session, options, args.agent, args.seed, plan)
