"""`autoresearch doctor`: check what a night needs before it starts, one line per check."""

from __future__ import annotations

import argparse
from typing import Any

from autoresearch.cli.flags import Commands, setting_flags
from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.errors import ExitStatus, UserError
from autoresearch.loop.doctor import FAIL, WARN, Check, Night, checks
from autoresearch.loop.launch import loop_options
from autoresearch.rules.settings import build_settings
from autoresearch.rules.settings_table import flag_values
from autoresearch.store import git
from autoresearch.store.files import SessionFiles, lock_holder
from autoresearch.store.settings_file import read_settings_file


def add_parser(commands: Commands) -> None:
    doctor = commands.add_parser("doctor", help="check what a night needs before it starts")
    setting_flags(doctor, "doctor")
    doctor.add_argument("--no-run", action="store_true", help="do not run the command once")


def check_line(check: Check) -> str:
    line = f"{check.status:<5} {check.name:<9} {check.detail}"
    return f"{line} — {check.hint}" if check.hint else line


def run(args: argparse.Namespace) -> int:
    night = gather(args)
    failed = warned = 0
    for check in checks(night, run=not args.no_run):
        print(check_line(check), flush=True)
        failed += check.status == FAIL
        warned += check.status == WARN
    if failed:
        print(f"doctor: {failed} problem(s) would stop the night")
        return ExitStatus.FAILED
    print("doctor: ready for the night" + (f" ({warned} warning(s))" if warned else ""))
    return ExitStatus.OK


def gather(args: argparse.Namespace) -> Night:
    """The settings a night would use: the checked-out session's, else the file's and flags'."""
    try:
        repo = git.toplevel(args.directory)
    except UserError as error:
        return Night(None, None, str(error), loop_options(vars(args), {}))
    try:
        file_values, settings_file = read_settings_file(repo)
    except UserError as error:
        return Night(repo, None, str(error), loop_options(vars(args), {}))
    options = loop_options(vars(args), file_values)
    knobs: Any = file_values.get("knob") or ()
    branch = git.current_branch(repo) or ""
    tag = branch[len(BRANCH_PREFIX) :] if branch.startswith(BRANCH_PREFIX) else None
    try:
        files = SessionFiles(repo, tag) if tag else None
        if files is not None and files.exists():
            session = Session.open(repo)
            knobs = tuple(knobs or session.settings.knobs)
            busy = lock_holder(files)
            return Night(repo, session.settings, None, options, knobs, True, busy, session.scope)
        settings = build_settings(file_values, flag_values(args))
    except UserError as error:
        return Night(repo, None, str(error), options, tuple(knobs))
    scope = Session.planned_scope(repo, settings, settings_file)
    return Night(repo, settings, None, options, tuple(knobs or settings.knobs), scope=scope)
