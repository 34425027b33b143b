"""`autoresearch audit`: re-run the baseline and the best; is the night's gain real?"""

from __future__ import annotations

import argparse
import os

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import recovered
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    audit = commands.add_parser("audit", help="re-run baseline and best: is the gain real?")
    audit.add_argument("--runs", type=int, default=5, help="runs of each version (default 5)")
    audit.add_argument(
        "--keeps",
        action="store_true",
        help="also revert each kept change alone to see what it carried",
    )


def run(args: argparse.Namespace) -> int:
    from autoresearch.history.audit import Audit, report_lines, write_report

    with recovered(Session.open(args.directory)) as session:
        result = Audit(session, args.runs, say=lambda text: print(text, flush=True)).run(
            keeps=args.keeps
        )
    markdown, data = write_report(session, result)
    for line in report_lines(result)[2:]:
        print(line)
    shown = [os.path.relpath(path, session.repo) for path in (markdown, data)]
    print(f"report: {shown[0]} (data: {shown[1]})")
    return ExitStatus.OK
