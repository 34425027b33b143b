"""`autoresearch finalize`: a reviewable branch holding only the kept changes, and a summary."""

from __future__ import annotations

import argparse
import os

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import checked
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    finalize = commands.add_parser(
        "finalize", help="branch autoresearch/TAG-final with only the kept changes, and a summary"
    )
    finalize.add_argument(
        "--squash", action="store_true", help="one commit instead of one per kept change"
    )


def run(args: argparse.Namespace) -> int:
    from autoresearch.history.finalize import finalize, gain_text

    session = checked(Session.open(args.directory))
    result = finalize(session, squash=args.squash)
    plan = result.plan
    count = len(result.commits)
    print(
        f"created {plan.branch}: {count} commit{'s' if count > 1 else ''} on {plan.start[:7]}, "
        f"ending on the tree of the keep ref {plan.keep[:7]}"
    )
    print(result.headline)
    if not result.squash:
        for commit, step in zip(result.commits, plan.steps, strict=True):
            gain = gain_text(plan.metric, step.before, step.value)
            print(f"  {commit[:7]}  {gain}  {step.row.description}")
    print(f"pull request summary: {os.path.relpath(result.summary_path, session.repo)}")
    print(
        f"session branch, HEAD and working tree untouched; publish: git push origin {plan.branch}"
    )
    return ExitStatus.OK
