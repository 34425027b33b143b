"""`autoresearch try`: commit what differs from the keep ref, run it, decide, record."""

from __future__ import annotations

import argparse

from autoresearch.cli.flags import Commands, setting_flags
from autoresearch.cli.shared import run_one
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus, UserError


def add_parser(commands: Commands) -> None:
    try_ = commands.add_parser("try", help="commit, run, measure and decide one experiment")
    try_.add_argument("-m", "--message", required=True, help="what this experiment tries")
    try_.add_argument("--json", action="store_true", help="print the experiment as JSON")
    try_.add_argument(
        "--in-worktree",
        action="store_true",
        help="run in a clean checkout of the commit, not in this tree (as `loop` does)",
    )
    setting_flags(try_, "try")


def run(args: argparse.Namespace) -> int:
    session = Session.open(args.directory)
    if args.link and not args.in_worktree:
        raise UserError("--link needs --in-worktree (a run in this tree sees its files already)")
    executor = None
    if args.in_worktree:
        from autoresearch.engine.workers import worktree_runs  # only then: it loads more

        executor = worktree_runs(session, args.link or ())
    try:
        experiment = run_one(session, args.message, as_json=args.json, executor=executor)
    finally:
        if executor is not None:
            executor.close()
    return ExitStatus.INTERRUPTED if experiment is None else ExitStatus.OK
