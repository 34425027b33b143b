"""What each engine command does with its parsed arguments: call the engine, print the result."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator

from autoresearch import git, output, recovery
from autoresearch.cli import EXIT_INTERRUPTED, print_json
from autoresearch.errors import UserError
from autoresearch.experiment import Experiment, Interrupted
from autoresearch.ledger import Ledger, read_ledger
from autoresearch.session import Session
from autoresearch.settings import build_settings, flag_values, parse_direction, read_settings_file
from autoresearch.verdict import CRASH

TYPE_CHECKING = False  # typing is not imported at run time: see records.py
if TYPE_CHECKING:
    from _typeshed import StrPath


def open_session(args: argparse.Namespace) -> Session:
    return Session.open(args.directory)


def progress_printer(session: Session) -> Callable[[float], None] | None:
    """A one-line live indicator, only when a person is watching a terminal."""
    if not sys.stdout.isatty():
        return None
    budget = session.settings.budget
    limit = f" / {output.duration(budget)}" if budget else ""

    def tick(elapsed: float) -> None:
        sys.stdout.write(f"\r  running {output.duration(elapsed)}{limit} ")
        sys.stdout.flush()

    return tick


def report_experiment(experiment: Experiment, as_json: bool, tty: bool) -> None:
    if tty:
        sys.stdout.write("\r\033[K")
    if as_json:
        print_json(experiment.to_json())
        return
    for line in output.verdict_lines(experiment):
        print(line)
    if experiment.status == CRASH and experiment.reason != "interrupted":
        output.print_tail(experiment.tail)


@contextlib.contextmanager
def recovered(session: Session) -> Iterator[Session]:
    """The session locked for this command, with whatever a killed command left undone finished."""
    with session.lock():
        for message in recovery.recover(session):
            print(f"recovered: {message}", file=sys.stderr)
        yield session


def run_one(session: Session, description: str, as_json: bool) -> Experiment | None:
    tick = progress_printer(session)
    with recovered(session):
        try:
            experiment = session.try_candidate(description, on_tick=tick)
        except Interrupted as interrupted:
            report_experiment(interrupted.experiment, as_json, tick is not None)
            return None
    report_experiment(experiment, as_json, tick is not None)
    return experiment


def cmd_init(args: argparse.Namespace) -> int:
    repo = git.toplevel(args.directory)
    file_values, settings_file = read_settings_file(repo)
    settings = build_settings(file_values, flag_values(args))
    session = Session.start(repo, settings, settings_file)
    scope = (
        ", ".join(settings.scope)
        if settings.scope
        else (f"{len(session.meta['scope_files'])} tracked files")
    )  # type: ignore[arg-type]
    protected = ", ".join(settings.protect) or "none"
    print(
        f"session {settings.tag} on branch autoresearch/{settings.tag} · {settings.metric} "
        f"({settings.direction}) · scope: {scope} · protected: {protected}"
    )
    if args.no_baseline:
        print("baseline not run: the first `autoresearch try` measures the starting point")
        return 0
    experiment = run_one(session, "baseline", as_json=False)
    if experiment is None:
        return EXIT_INTERRUPTED
    if experiment.status == CRASH:
        print(
            "the baseline crashed: fix the run and `autoresearch try -m ...`; the first "
            "experiment that runs becomes the baseline",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_try(args: argparse.Namespace) -> int:
    session = open_session(args)
    experiment = run_one(session, args.message, as_json=args.json)
    return EXIT_INTERRUPTED if experiment is None else 0


def read_ledger_file(path: StrPath) -> Ledger:
    """Any ledger file, ours or Karpathy's; what is not one is refused in one line."""
    if not os.path.isfile(path):
        raise UserError(f"no ledger at {path}")
    try:
        return read_ledger(path)
    except ValueError as error:
        raise UserError(str(error)) from None


def cmd_status(args: argparse.Namespace) -> int:
    from autoresearch.status import guess_direction, ledger_status, session_status

    if args.results is not None:
        book = read_ledger_file(args.results)
        direction = parse_direction(args.direction) if args.direction else guess_direction(book)
        summary = ledger_status(book, direction)
    else:
        summary = session_status(open_session(args))
    if args.json:
        print_json(summary)
    else:
        print("\n".join(output.status_lines(summary)))
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    with recovered(open_session(args)) as session:
        result = recovery.reset(session)
    kept = f"; abandoned work kept at {result.abandoned_ref}" if result.abandoned_ref else ""
    print(f"reset to the keep ref {result.keep[:7]}{kept}")
    if result.untracked_left:
        print(
            f"untracked files in scope left in place (the next try includes them): "
            f"{', '.join(result.untracked_left)}"
        )
    return 0


def cmd_rewind(args: argparse.Namespace) -> int:
    with recovered(open_session(args)) as session:
        commit, value, ref = recovery.rewind(session, args.ref)
    kept = f"; stray work kept at {ref}" if ref else ""
    print(
        f"rewound: keep ref is {commit[:7]} ({session.settings.metric} "
        f"{output.format_number(value)}); later experiments compare against it{kept}"
    )
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from autoresearch.audit import Audit, report_lines, write_report

    with recovered(open_session(args)) as session:
        result = Audit(session, args.runs, say=lambda text: print(text, flush=True)).run(
            keeps=args.keeps
        )
    markdown, data = write_report(session, result)
    for line in report_lines(result)[2:]:
        print(line)
    print(f"report: {markdown.relative_to(session.repo)} (data: {data.relative_to(session.repo)})")
    return 0
