"""`autoresearch try`: commit what differs from the keep ref, run it, decide, record."""

from __future__ import annotations

import argparse

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import run_one
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    try_ = commands.add_parser("try", help="commit, run, measure and decide one experiment")
    try_.add_argument("-m", "--message", required=True, help="what this experiment tries")
    try_.add_argument("--json", action="store_true", help="print the experiment as JSON")


def run(args: argparse.Namespace) -> int:
    experiment = run_one(Session.open(args.directory), args.message, as_json=args.json)
    return ExitStatus.INTERRUPTED if experiment is None else ExitStatus.OK
