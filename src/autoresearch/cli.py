"""The command line: one thin function per command, parsing and printing only."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence

from autoresearch import __version__
from autoresearch.errors import UserError

TYPE_CHECKING = False  # typing is not imported at run time: see records.py
if TYPE_CHECKING:
    from typing import Any

EXIT_INTERRUPTED = 130


def _session_flags(parser: argparse.ArgumentParser) -> None:
    """The settings `init` takes (and `loop`, when it has to start the session itself)."""
    parser.add_argument("--tag", help="session name; branch autoresearch/TAG (default: date)")
    parser.add_argument("--run", help="the command that runs one experiment")
    parser.add_argument("--metric", help="the metric NAME read from the run log")
    parser.add_argument("--direction", help="minimize (min, lower) or maximize (max, higher)")
    parser.add_argument("--pattern", help="regex with one capture group for the metric")
    parser.add_argument("--budget", help="seconds a run is meant to take; killed at 2x")
    parser.add_argument("--timeout", help="kill a run after this many seconds instead")
    parser.add_argument(
        "--scope",
        action="append",
        metavar="GLOB",
        help="files an experiment may change (repeatable)",
    )
    parser.add_argument(
        "--protect",
        action="append",
        metavar="GLOB",
        help="files no experiment may change (repeatable)",
    )
    parser.add_argument(
        "--also", action="append", metavar="NAME", help="secondary metric to record (repeatable)"
    )
    parser.add_argument("--noise", help="auto (default), off, or a fixed sigma")
    parser.add_argument("--min-delta", help="smallest improvement worth keeping: X or X%%")
    parser.add_argument("--repeats", help="most runs of one candidate (default 4)")
    parser.add_argument("--complexity-cost", help="metric units (or %% of baseline) per line")
    parser.add_argument(
        "--constraint",
        action="append",
        metavar="NAME<=VALUE",
        help="guardrail on a metric (repeatable)",
    )
    parser.add_argument("--holdout", metavar="CMD", help="command run after each keep only")
    parser.add_argument("--holdout-metric", help="metric the holdout prints (default: METRIC)")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="do not run the baseline now (the first `try` measures it)",
    )


ENGINE_COMMANDS = ("init", "try", "status", "reset", "rewind", "audit")


def _terminal_width() -> int:
    """As ``shutil.get_terminal_size`` reads it: $COLUMNS, else the terminal, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given the width so that it need not import shutil (with bz2 and
    lzma): argparse builds one for every flag defined, whether help is shown or not."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_width() - 2)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands use the same formatter."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(**kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` an engine command just that one: agents call
    `try` and `status` hundreds of times a night, and every flag defined costs start-up time."""
    parser = _Parser(
        prog="autoresearch",
        description="An autonomous experiment loop against one target metric.",
    )
    parser.add_argument("--version", action="version", version=f"autoresearch {__version__}")
    parser.add_argument(
        "-C", dest="directory", default=".", metavar="DIR", help="run as if started in DIR"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in ENGINE_COMMANDS if only is None else (only,):
        _ENGINE_PARSERS[name](commands)
    if only is not None:
        return parser

    loop = commands.add_parser("loop", help="let an agent drive: one experiment per call")
    _loop_flags(loop)
    loop.set_defaults(handler="loop")

    demo = commands.add_parser("demo", help="run the loop on a built-in numpy project")
    demo.add_argument("dir", nargs="?", help="where to create it (default: a new temp folder)")
    demo.add_argument("--experiments", type=int, help="how many experiments to run")
    demo.add_argument("--seed", type=int, help="seed for the tuner")
    demo.set_defaults(handler="demo")
    from autoresearch.commands_ship import add_ship_commands

    add_ship_commands(commands)
    return parser


def _add_init(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser("init", help="start a session: branch, ledger, baseline")
    _session_flags(init)
    init.set_defaults(handler="init")


def _add_try(commands: argparse._SubParsersAction) -> None:
    try_ = commands.add_parser("try", help="commit, run, measure and decide one experiment")
    try_.add_argument("-m", "--message", required=True, help="what this experiment tries")
    try_.add_argument("--json", action="store_true", help="print the experiment as JSON")
    try_.set_defaults(handler="try")


def _add_status(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser("status", help="where the session stands")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.add_argument("--results", help="read this ledger instead of a session's")
    status.add_argument("--direction", help="for --results: minimize or maximize")
    status.set_defaults(handler="status")


def _add_reset(commands: argparse._SubParsersAction) -> None:
    reset = commands.add_parser("reset", help="abandon a crashed candidate or stray edits")
    reset.set_defaults(handler="reset")


def _add_rewind(commands: argparse._SubParsersAction) -> None:
    rewind = commands.add_parser("rewind", help="move the keep ref back to an earlier keep")
    rewind.add_argument("ref", help="a kept commit of the ledger")
    rewind.set_defaults(handler="rewind")


def _add_audit(commands: argparse._SubParsersAction) -> None:
    audit = commands.add_parser("audit", help="re-run baseline and best: is the gain real?")
    audit.add_argument("--runs", type=int, default=5, help="runs of each version (default 5)")
    audit.add_argument(
        "--keeps",
        action="store_true",
        help="also revert each kept change alone to see what it carried",
    )
    audit.set_defaults(handler="audit")


_ENGINE_PARSERS = {
    "init": _add_init,
    "try": _add_try,
    "status": _add_status,
    "reset": _add_reset,
    "rewind": _add_rewind,
    "audit": _add_audit,
}


def _command_word(argv: Sequence[str]) -> str | None:
    """The command the arguments name, found without parsing them (``-C DIR`` may come first)."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif word.startswith("-C"):
            continue
        else:
            return None
    return None


def _loop_flags(parser: argparse.ArgumentParser) -> None:
    _session_flags(parser)
    parser.add_argument("--agent", help="claude, codex, aider, openai, anthropic, command, tune")
    parser.add_argument("--model", help="the model the agent should use")
    parser.add_argument("--base-url", help="API endpoint for openai / anthropic")
    parser.add_argument("--api-key", help="API key (default: the usual environment variable)")
    parser.add_argument("--agent-cmd", help="shell command for --agent command")
    parser.add_argument("--agent-arg", action="append", help="extra argument for the agent CLI")
    parser.add_argument("--agent-timeout", help="seconds before an agent call is killed")
    parser.add_argument("--program", help="research program file (default: program.md)")
    parser.add_argument("--max-fix-attempts", help="fix calls after a crash (default 2)")
    parser.add_argument("--max-failures", help="failed agent calls in a row before stopping")
    parser.add_argument("--max-experiments", help="stop after N experiments")
    parser.add_argument("--max-hours", help="stop after H hours")
    parser.add_argument("--target", help="stop once the best reaches VALUE")
    parser.add_argument("--plateau", help="stop after N experiments in a row without a keep")
    parser.add_argument("--max-cost", help="stop once agents report USD spent")
    parser.add_argument("--seed", type=int, help="seed for the tuner")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    word = _command_word(arguments)
    args = build_parser(word if word in ENGINE_COMMANDS else None).parse_args(arguments)
    from autoresearch import commands  # the engine loads only once the arguments are sound

    if args.handler in ("loop", "demo"):
        from autoresearch import commands_loop as commands
    if args.handler in ("plot", "report", "dashboard", "finalize", "skill", "import"):
        from autoresearch import commands_ship as commands
    handler: Callable[[argparse.Namespace], int] = getattr(commands, f"cmd_{args.handler}")
    try:
        return handler(args)
    except UserError as error:
        print(f"autoresearch: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:  # a git call that failed, a full disk, a file that vanished
        print(f"autoresearch: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nautoresearch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _stop_as_on_ctrl_c(*signals: signal.Signals) -> None:
    """Take these signals as Ctrl-C: the run's process tree is killed, the experiment recorded as
    interrupted and the tree restored. By default SIGTERM (a scheduler's preemption, `kill`,
    `timeout`) and SIGHUP (a closed terminal) end the tool at once and orphan a run that goes on
    holding its GPU. A signal already ignored, as under nohup, stays ignored."""
    for signum in signals:
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _interrupt)


def run() -> None:
    """The console entry point: ``main``, then, for the engine commands, a prompt exit.

    Agents call `try` and `status` hundreds of times a night, and tearing the interpreter down
    module by module costs each call about 10 ms for nothing: every file these commands write is
    closed before ``main`` returns, so only the standard streams are left to flush.
    """
    _stop_as_on_ctrl_c(signal.SIGTERM, signal.SIGHUP)
    code = main()
    if _command_word(sys.argv[1:]) not in ENGINE_COMMANDS:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when started with the descriptor closed
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: no reader is left
                stream.flush()
    os._exit(code)


def print_json(data: object) -> None:
    print(json.dumps(data, indent=None, default=str))
