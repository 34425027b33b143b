"""`autoresearch end`: leave the session, back to the branch it started from."""

from __future__ import annotations

import argparse
import os

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import recovered
from autoresearch.engine.end import end_session
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    commands.add_parser(
        "end", help="leave the session: back to its starting branch, everything kept"
    )


def run(args: argparse.Namespace) -> int:
    with recovered(Session.open(args.directory)) as session:
        ended = end_session(session)
    repo = session.repo
    print(
        f"ended session {session.tag}: now on {ended.checked_out}; branch "
        f"autoresearch/{session.tag}, keep ref {ended.keep[:7]} and refs/autoresearch/"
        f"{session.tag}/ kept"
    )
    if ended.parked_ledger:
        print(f"ledger parked at {os.path.relpath(ended.parked_ledger, repo)}")
    if ended.abandoned_ref:
        print(f"uncommitted work kept at {ended.abandoned_ref}")
    if ended.untracked_left:
        print(f"untracked files left in place: {', '.join(ended.untracked_left)}")
    print(
        f"resume with `git checkout autoresearch/{session.tag}`; "
        "or `autoresearch init` a new session from here"
    )
    print(
        f"to fix a protected file: commit the fix on top of autoresearch/{session.tag}, then "
        f"`autoresearch init --continue {session.tag}`"
    )
    return ExitStatus.OK
