"""`autoresearch reset`: abandon a crashed candidate or stray edits, back to the keep ref."""

from __future__ import annotations

import argparse

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import recovered
from autoresearch.engine import recovery
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    commands.add_parser("reset", help="abandon a crashed candidate or stray edits")


def run(args: argparse.Namespace) -> int:
    with recovered(Session.open(args.directory)) as session:
        result = recovery.reset(session)
    kept = f"; abandoned work kept at {result.abandoned_ref}" if result.abandoned_ref else ""
    print(f"reset to the keep ref {result.keep[:7]}{kept}")
    if result.untracked_left:
        print(
            f"untracked files in scope left in place (the next try includes them): "
            f"{', '.join(result.untracked_left)}"
        )
    return ExitStatus.OK
