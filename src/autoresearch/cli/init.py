"""`autoresearch init`: start a session (branch, ledger, frozen settings) and run the baseline."""

from __future__ import annotations

import argparse
import sys

from autoresearch.cli.flags import Commands, session_flags
from autoresearch.cli.shared import run_one
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus
from autoresearch.history.trackers import require as require_trackers
from autoresearch.rules.settings import build_settings, flag_values
from autoresearch.rules.verdict import CRASH
from autoresearch.store import git
from autoresearch.store.settings_file import read_settings_file


def add_parser(commands: Commands) -> None:
    init = commands.add_parser("init", help="start a session: branch, ledger, baseline")
    session_flags(init)


def run(args: argparse.Namespace) -> int:
    repo = git.toplevel(args.directory)
    file_values, settings_file = read_settings_file(repo)
    settings = build_settings(file_values, flag_values(args))
    require_trackers(settings.track)
    session = Session.start(repo, settings, settings_file)
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
    if args.no_baseline:
        print("baseline not run: the first `autoresearch try` measures the starting point")
        return ExitStatus.OK
    experiment = run_one(session, "baseline")
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
