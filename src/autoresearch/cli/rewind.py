"""`autoresearch rewind REF`: move the keep ref back to an earlier kept commit."""

from __future__ import annotations

import argparse

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import recovered
from autoresearch.engine import recovery
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus
from autoresearch.rules.formatting import number


def add_parser(commands: Commands) -> None:
    rewind = commands.add_parser("rewind", help="move the keep ref back to an earlier keep")
    rewind.add_argument("ref", help="a kept commit of the ledger")


def run(args: argparse.Namespace) -> int:
    with recovered(Session.open(args.directory)) as session:
        commit, value, ref = recovery.rewind(session, args.ref)
    kept = f"; stray work kept at {ref}" if ref else ""
    print(
        f"rewound: keep ref is {commit[:7]} ({session.settings.metric} "
        f"{number(value)}); later experiments compare against it{kept}"
    )
    return ExitStatus.OK
