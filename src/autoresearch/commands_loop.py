"""The commands that drive an agent: `loop`, and `demo`, which runs it on a built-in project."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from autoresearch import git, output
from autoresearch.agents import build_agent
from autoresearch.agents.base import AgentOptions, AgentSetup
from autoresearch.agents.choose import default_agent_name
from autoresearch.commands import run_one
from autoresearch.errors import UserError
from autoresearch.loop import Loop, LoopReport, StopRules
from autoresearch.session import BRANCH_PREFIX, Session
from autoresearch.settings import LOOP_KEYS, build_settings, flag_values, read_settings_file
from autoresearch.state import SessionFiles
from autoresearch.status import session_status
from autoresearch.verdict import CRASH


def find_or_start(args: argparse.Namespace, repo: str) -> Session | None:
    """The session to continue, or a new one set up like `init` (None if its baseline crashed)."""
    branch = git.current_branch(repo) or ""
    if args.tag and SessionFiles(repo, args.tag).exists():
        if branch != BRANCH_PREFIX + args.tag:
            if not git.status(repo).clean:
                raise UserError("tracked files have uncommitted changes; commit or stash first")
            git.checkout(repo, BRANCH_PREFIX + args.tag)
        return Session.open(repo, args.tag)
    if not args.tag and branch.startswith(BRANCH_PREFIX):
        return Session.open(repo)
    file_values, settings_file = read_settings_file(repo)
    settings = build_settings(file_values, flag_values(args))
    session = Session.start(repo, settings, settings_file)
    print(f"session {settings.tag} started on branch {BRANCH_PREFIX}{settings.tag}")
    if getattr(args, "no_baseline", False):
        return session
    baseline = run_one(session, "baseline", as_json=False)
    if baseline is None or baseline.status == CRASH:
        return None
    return session


def loop_options(args: argparse.Namespace, file_values: Mapping[str, Any]) -> dict[str, Any]:
    """The loop's options: flags first, then the settings file, then the defaults."""
    merged = {k: v for k, v in file_values.items() if k in LOOP_KEYS}
    for key in LOOP_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            merged[key] = value
    if getattr(args, "api_key", None):
        merged["api_key"] = args.api_key  # flags only: a key does not belong in a settings file
    return merged


def _number(options: Mapping[str, Any], key: str, kind: type, minimum: float = 0) -> Any:
    value = options.get(key)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UserError(f"{key.replace('_', '-')} must be a number, not {value!r}") from None
    if number < minimum:
        raise UserError(f"{key.replace('_', '-')} must be at least {minimum}, not {value!r}")
    return number


def stop_rules(options: Mapping[str, Any]) -> StopRules:
    fixes = _number(options, "max_fix_attempts", int)
    failures = _number(options, "max_failures", int, 1)
    return StopRules(
        max_experiments=_number(options, "max_experiments", int, 1),
        max_hours=_number(options, "max_hours", float),
        target=_number(options, "target", float, float("-inf")),
        plateau=_number(options, "plateau", int, 1),
        max_cost=_number(options, "max_cost", float),
        max_fix_attempts=2 if fixes is None else fixes,
        max_failures=5 if failures is None else failures,
    )


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
    session: Session, options: Mapping[str, Any], agent_name: str | None, seed: int | None
) -> int:
    file_values, _ = read_settings_file(session.repo)
    knobs = tuple(file_values.get("knob") or session.settings.knobs)
    name = agent_name or options.get("agent") or default_agent_name(os.environ, bool(knobs))
    timeout = _number(options, "agent_timeout", float)
    setup = AgentSetup(
        options=AgentOptions(
            model=options.get("model"),
            base_url=options.get("base_url"),
            api_key=options.get("api_key"),
            command=options.get("agent_cmd"),
            timeout=timeout,
            extra_args=tuple(options.get("agent_arg") or ()),
        ),
        repo=Path(session.repo),
        state_dir=Path(session.files.dir),
        ledger_path=Path(session.files.ledger),
        metric=session.settings.metric,
        direction=session.settings.direction,
        knobs=knobs,
        seed=seed,
    )
    agent = build_agent(str(name), setup)
    program = Path(options["program"]) if options.get("program") else None
    if program is not None and not program.is_file():
        raise UserError(f"no research program at {program}")
    report = terminal_report()
    report.say(
        f"loop: agent {name} on session {session.tag}; Ctrl-C stops after the running experiment"
    )
    Loop(session, agent, str(name), stop_rules(options), report, program).run()
    summary = session_status(session)
    report.say(f"stopped: {report.stop_reason}")
    for line in output.status_lines(summary)[:3]:
        report.say(line)
    report.say(f"ledger: {session.files.ledger} · tree at the keep ref {summary['keep_ref']}")
    return 0


def cmd_loop(args: argparse.Namespace) -> int:
    repo = git.toplevel(Path(args.directory))
    file_values, _ = read_settings_file(repo)
    options = loop_options(args, file_values)
    stop_rules(options)  # refuse bad numbers before anything is started
    knobs = file_values.get("knob") or []
    if knobs and (args.agent or options.get("agent")) in (None, "tune"):
        from autoresearch.knobs import parse_knobs

        parse_knobs(knobs, Path(repo))  # a knob that cannot be tuned is an error before any run
    session = find_or_start(args, repo)
    if session is None:
        print(
            "the baseline crashed: fix the run first (the session is ready for "
            "`autoresearch try` or another `loop`)",
            file=sys.stderr,
        )
        return 1
    return run_loop(session, options, args.agent, args.seed)


def cmd_demo(args: argparse.Namespace) -> int:
    from autoresearch.demo import RECOMMENDED_EXPERIMENTS, create_demo_project

    experiments = args.experiments or RECOMMENDED_EXPERIMENTS
    if args.dir:
        directory = Path(args.dir).resolve()
    else:
        directory = Path(tempfile.mkdtemp(prefix="autoresearch-demo-")) / "project"
    project = create_demo_project(directory, experiments)
    print(f"demo project: {project} (a numpy model; the tuner edits its knobs in train.py)")
    from autoresearch.cli import build_parser

    demo_args = build_parser().parse_args(["-C", str(project), "loop", "--tag", "demo"])
    session = find_or_start(demo_args, str(project))
    if session is None:
        return 1
    options = {"max_experiments": experiments}
    code = run_loop(session, options, "tune", args.seed)
    print(f"see it: cd {project} && autoresearch status")
    return code
