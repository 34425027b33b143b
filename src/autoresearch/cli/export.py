"""`autoresearch export mlflow|wandb`: every experiment of a session (or any ledger) as runs in
an experiment tracker; what the tracker has already is left alone."""

from __future__ import annotations

import argparse
import os

from autoresearch.cli.flags import Commands
from autoresearch.cli.ledger_args import read_ledger_file
from autoresearch.cli.shared import in_directory
from autoresearch.errors import ExitStatus, UserError
from autoresearch.rules.setting_parsers import TRACKERS


def add_parser(commands: Commands) -> None:
    export = commands.add_parser(
        "export", help="send every experiment to MLflow or W&B (what is there already is kept)"
    )
    export.add_argument("tracker", choices=TRACKERS, help="mlflow or wandb")
    export.add_argument("--tag", help="the session to export (default: the checked-out one)")
    export.add_argument(
        "--results", metavar="PATH", help="export this ledger (any format) instead of a session's"
    )
    export.add_argument(
        "--group", help="with --results: the MLflow experiment / W&B group (default: file's name)"
    )


def run(args: argparse.Namespace) -> int:
    from autoresearch.history.trackers import TrackerDown, open_tracker
    from autoresearch.history.trackers.sync import export, export_session
    from autoresearch.history.trackers.tracked import Source

    try:
        if args.results is None:
            from autoresearch.engine.session import Session
            from autoresearch.history.trackers.outbox import sending

            session = Session.open(args.directory, args.tag)
            group = session.tag
            # One sender at a time: the loop's, those `try` starts, this one.
            with sending(session.files):
                tracker = open_tracker(args.tracker, session.files.root)
                result = export_session(tracker, session.files)
        else:
            path = in_directory(args.directory, args.results)
            read_ledger_file(path)  # refuse what is not a ledger, in one line
            group = args.group or ledger_name(path)
            tracker = open_tracker(args.tracker, os.path.join(state_root(path), ".autoresearch"))
            result = export(tracker, Source(group=group, ledger=path))
    except TrackerDown as down:
        raise UserError(f"{down}; nothing is lost: run the export again") from None
    print(
        f"{args.tracker}: {len(result.sent)} experiment(s) of {group} sent, "
        f"{len(result.already)} there already"
    )
    return ExitStatus.OK


def ledger_name(path: str) -> str:
    """``nov25.tsv`` -> ``nov25``; a ``results.tsv`` is named after its folder."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem == "results":
        return os.path.basename(os.path.dirname(os.path.abspath(path))) or stem
    return stem


def state_root(path: str) -> str:
    """Where a local tracker store goes for a lone ledger: the repository it sits in, if any."""
    from autoresearch.store import git

    folder = os.path.dirname(os.path.abspath(path))
    try:
        return git.toplevel(folder)
    except (UserError, OSError):
        return folder
