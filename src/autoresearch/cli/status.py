"""`autoresearch status`: where the session (or any ledger) stands."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from autoresearch.cli.flags import Commands
from autoresearch.cli.ledger_args import read_ledger_file
from autoresearch.engine.inflight import worker_states
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus
from autoresearch.reports.terminal import print_json, status_lines
from autoresearch.rules.formatting import printable
from autoresearch.rules.setting_parsers import parse_direction


def add_parser(commands: Commands) -> None:
    status = commands.add_parser("status", help="where the session stands")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.add_argument("--results", help="read this ledger instead of a session's")
    status.add_argument("--direction", help="for --results: minimize or maximize")


def run(args: argparse.Namespace) -> int:
    from autoresearch.reports.status import guess_direction, ledger_status, session_status

    if args.results is not None:
        ledger = read_ledger_file(args.results)
        direction = parse_direction(args.direction) if args.direction else guess_direction(ledger)
        summary = {**ledger_status(ledger, direction), "workers": []}
    else:
        session = Session.open(args.directory)
        summary = {**session_status(session), "workers": worker_states(session.files.workers_json)}
    if args.json:
        print_json(summary)
    else:
        lines = status_lines(summary) + worker_lines(summary.get("workers") or [])
        print("\n".join(printable(line) for line in lines))
    return ExitStatus.OK


def worker_lines(workers: list[Mapping[str, Any]]) -> list[str]:
    """One line per worker of a parallel loop that is running: busy with what, or idle."""
    lines = []
    for worker in workers:
        if worker.get("busy"):
            doing = f"busy  experiment {worker['experiment']} ({worker['commit']}) "
            lines.append(f"worker {worker['worker']}: {doing}{worker['description']}")
        else:
            lines.append(f"worker {worker['worker']}: idle")
    return lines
