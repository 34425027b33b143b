"""`autoresearch report`: one self-contained HTML file, or Markdown for a pull request."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoresearch.cli.flags import Commands, ledger_flags
from autoresearch.cli.ledger_args import ledger_source, output_path
from autoresearch.cli.shared import in_directory
from autoresearch.errors import ExitStatus

DEFAULT_REPORT = "report.html"


def add_parser(commands: Commands) -> None:
    report = commands.add_parser("report", help="a report of the session: HTML or Markdown")
    report.add_argument(
        "-o",
        "--output",
        help=f"where to write it (default: {DEFAULT_REPORT}; Markdown goes to stdout)",
    )
    report.add_argument("--format", choices=("html", "md"), default="html", help="html or md")
    ledger_flags(report)


def run(args: argparse.Namespace) -> int:
    from autoresearch.reports.html import render_html
    from autoresearch.reports.markdown import render_markdown

    ledger, direction, session = ledger_source(args)
    diffs: dict[str, str] = {}
    extras: dict[str, object] = {}
    facts = None
    if session is not None:
        from autoresearch.history.lineage import kept_diffs, kept_steps
        from autoresearch.reports.extras import report_extras
        from autoresearch.reports.status import session_facts

        diffs = kept_diffs(session, kept_steps(session, ledger))
        extras = report_extras(session, ledger)
        facts = session_facts(session)
    if args.format == "html":
        path = output_path(args, DEFAULT_REPORT, session)
        print(render_html(ledger, direction, Path(path), diffs, extras, facts))
        return ExitStatus.OK
    from autoresearch.reports.audit_note import card_verdict
    from autoresearch.reports.extras import extras_markdown

    text = render_markdown(ledger, direction, diffs, facts, card_verdict(extras))
    if extras:
        text += "\n" + extras_markdown(extras)
    if args.output is None:
        sys.stdout.write(text)
        return ExitStatus.OK
    path = Path(in_directory(args.directory, args.output))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(path)
    return ExitStatus.OK
