"""`autoresearch repair`: rebuild the session's files and keep ref from its record in git."""

from __future__ import annotations

import argparse
import os

from autoresearch.cli.flags import Commands
from autoresearch.engine.record import STARTED_NOTE
from autoresearch.engine.repair import repair
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    commands.add_parser(
        "repair", help="put results.tsv, runs.jsonl, settings and keep ref back from the record"
    )


def run(args: argparse.Namespace) -> int:
    result = repair(args.directory)
    if result.started:
        print(STARTED_NOTE)
        return ExitStatus.OK
    if not result.restored:
        print("nothing to repair: the files and the keep ref agree with the session's record")
        return ExitStatus.OK
    print(f"repaired from the session's record: {', '.join(result.restored)}")
    if result.aside:
        print(f"the changed files are kept in {os.path.relpath(result.aside)}")
    return ExitStatus.OK
