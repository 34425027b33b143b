"""The entry point: build the parser, hand the arguments to the command's module, and turn what
goes wrong into one line and an exit status.

Each command is one module of this package with ``add_parser(commands)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from types import ModuleType

from autoresearch import __version__
from autoresearch.cli.flags import Parser
from autoresearch.errors import ExitStatus, UserError

# Command word -> module of this package, in the order `--help` lists them.
COMMANDS = {
    "init": "init",
    "try": "try_",
    "status": "status",
    "reset": "reset",
    "rewind": "rewind",
    "retry": "retry",
    "config": "config",
    "end": "end",
    "repair": "repair",
    "audit": "audit",
    "loop": "loop",
    "demo": "demo",
    "plot": "plot",
    "report": "report",
    "dashboard": "dashboard",
    "finalize": "finalize",
    "skill": "skill",
    "import": "import_",
    "doctor": "doctor",
    "export": "export",
}
# Agents call these hundreds of times a night: only the named command's parser is built, and the
# interpreter exits without tearing itself down.
ENGINE_COMMANDS = ("init", "try", "status", "reset", "rewind", "audit", "repair")


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"autoresearch.cli.{COMMANDS[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` just that command's part of it."""
    parser = Parser(
        prog="autoresearch",
        description="An autonomous experiment loop against one target metric.",
    )
    parser.add_argument("--version", action="version", version=f"autoresearch {__version__}")
    parser.add_argument(
        "-C", dest="directory", default=".", metavar="DIR", help="run as if started in DIR"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS if only is None else (only,):
        command_module(name).add_parser(commands)
    return parser


def command_word(argv: Sequence[str]) -> str | None:
    """The command the arguments name, found without parsing them (``-C DIR`` may come first)."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif not word.startswith("-"):
            return word
        elif not word.startswith("-C"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    word = command_word(arguments)
    args = build_parser(word if word in ENGINE_COMMANDS else None).parse_args(arguments)
    try:
        return command_module(args.command).run(args)
    except UserError as error:
        print(f"autoresearch: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:
        # The reader went away (`autoresearch status | head`): end quietly, as git does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitStatus.BROKEN_PIPE
    except OSError as error:  # a git call that failed, a full disk, a file that vanished
        print(f"autoresearch: {_disk_full(error, args.directory) or error}", file=sys.stderr)
        return ExitStatus.FAILED
    except KeyboardInterrupt:
        print("\nautoresearch: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED


# Below this, a failed write is taken for a full disk, whatever words git found for it (often
# only a lock file it could not create).
_NEARLY_FULL_BYTES = 1024 * 1024


def _disk_full(error: OSError, directory: str) -> str | None:
    """The message for a full disk, naming what can be freed; None when the disk has room."""
    import shutil  # only on a failure: every command starts without it

    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        free = None
    if error.errno != errno.ENOSPC and (free is None or free >= _NEARLY_FULL_BYTES):
        return None
    return (
        f"no space left on device ({os.path.abspath(directory)}): free some space (archived "
        "run logs are in .autoresearch/TAG/logs/) and run the command again; what was recorded "
        "is kept and an experiment cut short is recovered"
    )


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

    Tearing the interpreter down module by module costs each call about 10 ms for nothing:
    every file these commands write is closed before ``main`` returns, so only the standard
    streams are left to flush.
    """
    _stop_as_on_ctrl_c(signal.SIGTERM, signal.SIGHUP)
    engine = command_word(sys.argv[1:]) in ENGINE_COMMANDS
    if engine:
        # Some twenty collections while the command's modules load found a few hundred
        # objects of garbage in all, and cost `try` about 2 ms. Waiting on a run adds hardly
        # any (226 objects after a 6 s run), and the exit frees it.
        gc.disable()
    code = main()
    if not engine:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when started with the descriptor closed
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: no reader is left
                stream.flush()
    os._exit(code)
