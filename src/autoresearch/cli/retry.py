"""`autoresearch retry N`: bring experiment N's change back as the candidate."""

from __future__ import annotations

import argparse
import shlex

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import recovered
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    retry = commands.add_parser(
        "retry", help="bring experiment N's change back to measure it again with `try`"
    )
    retry.add_argument("number", type=int, metavar="N", help="the experiment (its ledger row)")


def run(args: argparse.Namespace) -> int:
    from autoresearch.history.retry import retry

    with recovered(Session.open(args.directory)) as session:
        retried = retry(session, args.number)
    row = retried.row
    print(
        f"experiment {retried.number} ({row.commit}, {row.status}: {row.description}) is back "
        f"on top of the keep ref {retried.keep[:7]}, uncommitted: {', '.join(retried.paths)}"
    )
    again = shlex.quote(f"again: {row.description}")
    print(f"measure it: autoresearch try -m {again}")
    return ExitStatus.OK
