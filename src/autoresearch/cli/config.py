"""`autoresearch config KEY VALUE`: change how the current session runs and measures."""

from __future__ import annotations

import argparse

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import recovered
from autoresearch.engine.config import CHANGEABLE, change_setting
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus
from autoresearch.reports.terminal import shown_setting as shown


def add_parser(commands: Commands) -> None:
    config = commands.add_parser(
        "config",
        help="change a session's run, budget, timeout, pattern or noise",
    )
    config.add_argument("key", nargs="?", help=", ".join(CHANGEABLE) + " (none: list them)")
    config.add_argument("value", nargs="?", help="the new value (none: clear a limit)")


def run(args: argparse.Namespace) -> int:
    session = Session.open(args.directory)
    if args.key is None:
        for key in CHANGEABLE:
            print(f"{key} = {shown(getattr(session.settings, key))}")
        for change in session.meta.changes:
            print(
                f"changed {change['key']}: {shown(change['old'])} -> {shown(change['new'])} "
                f"from experiment {change['from_experiment']}"
            )
        return ExitStatus.OK
    if args.value is None:
        from autoresearch.engine.config import setting_key

        print(shown(getattr(session.settings, setting_key(args.key))))
        return ExitStatus.OK
    with recovered(session):
        change = change_setting(session, args.key, args.value)
    if not change.changed:
        print(f"{change.key} is already {shown(change.old)}: nothing changed")
        return ExitStatus.OK
    print(
        f"{change.key}: {shown(change.old)} -> {shown(change.new)} from experiment "
        f"{change.from_experiment} on (recorded; `autoresearch status` shows it)"
    )
    return ExitStatus.OK
