"""`autoresearch dashboard`: a live, read-only page of the session on 127.0.0.1."""

from __future__ import annotations

import argparse

from autoresearch.cli.flags import Commands
from autoresearch.cli.shared import checked
from autoresearch.engine.session import Session
from autoresearch.errors import ExitStatus

DEFAULT_PORT = 8765


def add_parser(commands: Commands) -> None:
    dashboard = commands.add_parser("dashboard", help="serve a live, read-only page of the session")
    dashboard.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one"
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on")


def run(args: argparse.Namespace) -> int:
    from autoresearch.reports.dashboard import serve_dashboard
    from autoresearch.reports.status import session_facts

    session = checked(Session.open(args.directory))

    def ready(url: str) -> None:
        print(f"dashboard of session {session.tag}: {url} (Ctrl-C stops it)", flush=True)

    serve_dashboard(
        session.files,
        session.settings.direction,
        host=args.host,
        port=args.port,
        ready=ready,
        facts=session_facts(session),
    )
    return ExitStatus.OK
