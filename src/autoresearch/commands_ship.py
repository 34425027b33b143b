"""The commands that show a session and ship it: plot, report, dashboard, finalize, skill and
import. Parsing and printing only; the work is done in the modules each handler names.

The engine loads only inside the handlers, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.cli import _session_flags
from autoresearch.errors import UserError
from autoresearch.skill import TARGETS

if TYPE_CHECKING:
    from autoresearch.ledger import Ledger
    from autoresearch.session import Session

DEFAULT_PLOT = "progress.png"
DEFAULT_REPORT = "report.html"
DEFAULT_PORT = 8765


def add_ship_commands(commands: argparse._SubParsersAction) -> None:
    plot = commands.add_parser("plot", help="draw the progress of the metric as a PNG")
    plot.add_argument("-o", "--output", help=f"where to write it (default: {DEFAULT_PLOT})")
    _ledger_flags(plot)
    plot.set_defaults(handler="plot")

    report = commands.add_parser("report", help="a report of the session: HTML or Markdown")
    report.add_argument(
        "-o",
        "--output",
        help=f"where to write it (default: {DEFAULT_REPORT}; Markdown goes to stdout)",
    )
    report.add_argument("--format", choices=("html", "md"), default="html", help="html or md")
    _ledger_flags(report)
    report.set_defaults(handler="report")

    dashboard = commands.add_parser("dashboard", help="serve a live, read-only page of the session")
    dashboard.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0 picks a free one"
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dashboard.set_defaults(handler="dashboard")

    finalize = commands.add_parser(
        "finalize", help="branch autoresearch/TAG-final with only the kept changes, and a summary"
    )
    finalize.add_argument(
        "--squash", action="store_true", help="one commit instead of one per kept change"
    )
    finalize.set_defaults(handler="finalize")

    skill = commands.add_parser("skill", help="instructions for a coding agent to run the loop")
    skill.add_argument(
        "--install",
        choices=TARGETS,
        help="write them into the repository: .claude/skills/autoresearch/SKILL.md (claude) "
        "or a section of AGENTS.md (codex, agents-md)",
    )
    skill.set_defaults(handler="skill")

    adopt = commands.add_parser(
        "import", help="start a session whose history is an existing ledger (Karpathy's too)"
    )
    adopt.add_argument("path", help="the ledger to adopt")
    _session_flags(adopt)
    for action in adopt._actions:
        if action.dest == "no_baseline":
            action.help = argparse.SUPPRESS  # an import never runs the baseline
    adopt.set_defaults(handler="import")


def _ledger_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results", metavar="PATH", help="read this ledger (any format) instead of a session's"
    )
    parser.add_argument(
        "--direction", help="minimize or maximize (default: the session's, or guessed)"
    )


def _in_directory(args: argparse.Namespace, name: str) -> Path:
    """A path as the user meant it: relative to the folder given with -C."""
    return Path(args.directory) / name


def _ledger_source(args: argparse.Namespace) -> tuple[Ledger, str, Session | None]:
    """The ledger given with --results, which needs no session, or the session's."""
    from autoresearch.commands import read_ledger_file
    from autoresearch.session import Session
    from autoresearch.settings import parse_direction
    from autoresearch.status import guess_direction

    if args.results is None:
        session = Session.open(Path(args.directory))
        book = session.read_ledger()
        direction = args.direction or session.settings.direction
        return book, parse_direction(direction), session
    book = read_ledger_file(_in_directory(args, args.results))
    direction = parse_direction(args.direction) if args.direction else guess_direction(book)
    return book, direction, None


def _output(args: argparse.Namespace, default: str, session: Session | None) -> Path:
    """Where to write; a default file inside a session's repository is kept out of git, so an
    experiment never picks it up."""
    from autoresearch import git

    path = _in_directory(args, args.output or default)
    if args.output is None and session is not None:
        try:
            inside = path.resolve().relative_to(Path(session.repo).resolve())
        except ValueError:
            return path
        git.exclude(session.repo, [f"/{inside.as_posix()}"])
    return path


def cmd_plot(args: argparse.Namespace) -> int:
    from autoresearch.plot import render_plot

    book, direction, session = _ledger_source(args)
    path = _output(args, DEFAULT_PLOT, session)
    render_plot(book, path, direction, title_metric=session.settings.metric if session else None)
    print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from autoresearch.report import render_html, render_markdown

    book, direction, session = _ledger_source(args)
    diffs: dict[str, str] = {}
    extras: dict[str, object] = {}
    if session is not None:
        from autoresearch.lineage import kept_diffs, kept_steps
        from autoresearch.session_report import report_extras

        diffs = kept_diffs(session, kept_steps(session, book))
        extras = report_extras(session, book)
    if args.format == "html":
        print(render_html(book, direction, _output(args, DEFAULT_REPORT, session), diffs, extras))
        return 0
    from autoresearch.session_report import extras_markdown

    text = render_markdown(book, direction, diffs)
    if extras:
        text += "\n" + extras_markdown(extras)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    path = _in_directory(args, args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(path)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from autoresearch.dashboard import serve_dashboard
    from autoresearch.session import Session

    session = Session.open(Path(args.directory))

    def ready(url: str) -> None:
        print(f"dashboard of session {session.tag}: {url} (Ctrl-C stops it)", flush=True)

    serve_dashboard(
        Path(session.repo),
        Path(session.files.ledger),
        Path(session.files.dir),
        session.settings.direction,
        host=args.host,
        port=args.port,
        ready=ready,
    )
    return 0


def cmd_finalize(args: argparse.Namespace) -> int:
    from autoresearch.finalize import finalize, gain_text
    from autoresearch.session import Session

    session = Session.open(Path(args.directory))
    result = finalize(session, squash=args.squash)
    plan = result.plan
    count = len(result.commits)
    print(
        f"created {plan.branch}: {count} commit{'s' if count > 1 else ''} on {plan.start[:7]}, "
        f"ending on the tree of the keep ref {plan.keep[:7]}"
    )
    print(plan.headline())
    if not result.squash:
        for commit, step in zip(result.commits, plan.steps, strict=True):
            gain = gain_text(plan.metric, step.before, step.value)
            print(f"  {commit[:7]}  {gain}  {step.row.description}")
    print(f"pull request summary: {result.summary_path.relative_to(session.repo)}")
    print(
        f"session branch, HEAD and working tree untouched; publish: git push origin {plan.branch}"
    )
    return 0


def cmd_skill(args: argparse.Namespace) -> int:
    from autoresearch import git
    from autoresearch.skill import install, skill_text

    text = skill_text()
    if args.install is None:
        sys.stdout.write(text)
        return 0
    try:
        root: Path | None = Path(git.toplevel(args.directory))
    except UserError:
        root = None
    path, done = install(args.install, root or Path(args.directory), text)
    print(f"{done}: {path}")
    if root is not None and git.is_tracked(root, str(path.relative_to(root))):
        print(
            f"{path.name} is tracked by git: commit the change outside any session, or the next "
            "experiment carries it (or is refused for it)"
        )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from autoresearch import git
    from autoresearch.adopt import adopt
    from autoresearch.commands import read_ledger_file
    from autoresearch.report import format_value
    from autoresearch.settings import flag_values, read_settings_file

    repo = git.toplevel(Path(args.directory))
    file_values, settings_file = read_settings_file(repo)
    flags = flag_values(args)
    source = _in_directory(args, args.path)
    adoption = adopt(repo, source, read_ledger_file(source), flags, file_values, settings_file)
    session, settings = adoption.session, adoption.session.settings
    guessed = ", guessed from the kept rows" if adoption.direction_guessed else ""
    print(
        f"session {settings.tag} on branch autoresearch/{settings.tag} · {settings.metric} "
        f"({settings.direction}{guessed}) · imported {adoption.rows} rows from "
        f"{adoption.source.name} (a copy: {adoption.copy.relative_to(repo)})"
    )
    if adoption.dropped:
        print(
            f"columns not imported: {', '.join(adoption.dropped)} (this session does not record "
            "them; --also NAME records a metric the run prints)"
        )
    for problem in adoption.skipped:
        print(f"row not imported: {problem}")
    keep = session.keep_ref()
    best = session.best_value(session.read_ledger(), keep)
    if best is not None:
        value = format_value(best)
        print(f"the next `autoresearch try` is compared against {settings.metric} {value}")
    else:
        print(
            "the imported ledger has no keep: measure HEAD first with `autoresearch try -m "
            '"baseline"` (no change needed); later experiments compare against it'
        )
    return 0
