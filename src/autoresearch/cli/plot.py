"""`autoresearch plot`: the progress picture of a session's ledger, or of any ledger."""

from __future__ import annotations

import argparse

from autoresearch.cli.flags import Commands, ledger_flags
from autoresearch.cli.ledger_args import ledger_source, output_path
from autoresearch.errors import ExitStatus

DEFAULT_PLOT = "progress.png"


def add_parser(commands: Commands) -> None:
    plot = commands.add_parser("plot", help="draw the progress of the metric as a PNG")
    plot.add_argument("-o", "--output", help=f"where to write it (default: {DEFAULT_PLOT})")
    ledger_flags(plot)


def run(args: argparse.Namespace) -> int:
    from autoresearch.reports.plot import render_plot

    ledger, direction, session = ledger_source(args)
    path = output_path(args, DEFAULT_PLOT, session)
    if session is None:
        render_plot(ledger, path, direction)
    else:
        from autoresearch.reports.status import session_facts

        metric = session.settings.metric
        render_plot(ledger, path, direction, metric, session_facts(session))
    print(path)
    return ExitStatus.OK
