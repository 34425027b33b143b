"""Where the commands that read a ledger (status, plot, report, import) find it and write."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from autoresearch.cli.shared import checked, in_directory
from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.rules.setting_parsers import parse_direction
from autoresearch.store import git
from autoresearch.store.ledger import Ledger, read_ledger


def read_ledger_file(path: str) -> Ledger:
    """Any ledger file, ours or Karpathy's; what is not one is refused in one line."""
    if not os.path.isfile(path):
        raise UserError(f"no ledger at {path}")
    try:
        return read_ledger(path)
    except ValueError as error:
        raise UserError(str(error)) from None


def ledger_source(args: argparse.Namespace) -> tuple[Ledger, str, Session | None]:
    """The ledger given with --results, which needs no session, or the session's."""
    from autoresearch.reports.status import guess_direction

    if args.results is None:
        session = checked(Session.open(args.directory))
        direction = parse_direction(args.direction or session.settings.direction)
        return session.read_ledger(), direction, session
    ledger = read_ledger_file(in_directory(args.directory, args.results))
    direction = parse_direction(args.direction) if args.direction else guess_direction(ledger)
    return ledger, direction, None


def output_path(args: argparse.Namespace, default: str, session: Session | None) -> Path:
    """Where to write; a default file inside a session's repository is kept out of git, so an
    experiment never picks it up."""
    path = Path(in_directory(args.directory, args.output or default))
    if args.output is None and session is not None:
        try:
            inside = path.resolve().relative_to(Path(session.repo).resolve())
        except ValueError:
            return path
        git.exclude(session.repo, [f"/{inside.as_posix()}"])
    return path
