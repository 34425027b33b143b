"""The parser's building blocks: the shared formatter and the flags several commands take."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


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


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, given the width so that it need not import shutil (with bz2 and
    lzma): argparse builds one for every flag defined, whether help is shown or not."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_width() - 2)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands use the same formatter."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(**kwargs)


Commands = argparse._SubParsersAction


def session_flags(parser: argparse.ArgumentParser, baseline: bool = True) -> None:
    """The settings `init` takes (and `loop` and `import`, which may start a session too)."""
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
        "--track",
        action="append",
        metavar="NAME",
        help="send every experiment to mlflow or wandb too (repeatable)",
    )
    if baseline:
        parser.add_argument(
            "--no-baseline",
            action="store_true",
            help="do not run the baseline now (the first `try` measures it)",
        )


def loop_flags(parser: argparse.ArgumentParser) -> None:
    """The options of the loop: which agent, how to reach it, when to stop."""
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
    parser.add_argument(
        "--max-crashes", help="stop after N run crashes in a row (default 10; 0: never)"
    )
    parser.add_argument("--max-experiments", help="stop after N experiments")
    parser.add_argument("--max-hours", help="stop after H hours")
    parser.add_argument("--target", help="stop once the best reaches VALUE")
    parser.add_argument("--plateau", help="stop after N experiments in a row without a keep")
    parser.add_argument("--max-cost", help="stop once agents report USD spent")
    parser.add_argument("--seed", type=int, help="seed for the tuner")


def link_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--link",
        action="append",
        metavar="PATH",
        help="untracked file or folder a run needs, linked into its checkout (repeatable)",
    )


def worker_flags(parser: argparse.ArgumentParser) -> None:
    """Where and how many experiments run at once."""
    link_flag(parser)
    parser.add_argument("--workers", help="experiments run at once (default 1, or one per GPU set)")
    parser.add_argument("--gpus", metavar="0,1,...", help="devices to share out among the runs")
    parser.add_argument("--gpus-per-run", help="devices each run gets (default 1)")
    parser.add_argument(
        "--pipeline",
        action="store_true",
        default=None,
        help="let the agent prepare the next candidate while a run goes",
    )
    parser.add_argument("--executor", help="local (default) or ray")
    parser.add_argument("--ray-address", help="the Ray cluster to use (default: start one here)")
    parser.add_argument(
        "--in-place",
        action="store_true",
        default=None,
        help="run in the tree the agent edits, not in a clean checkout (one worker only)",
    )


def ledger_flags(parser: argparse.ArgumentParser) -> None:
    """For the commands that read any ledger, with or without a session behind it."""
    parser.add_argument(
        "--results", metavar="PATH", help="read this ledger (any format) instead of a session's"
    )
    parser.add_argument(
        "--direction", help="minimize or maximize (default: the session's, or guessed)"
    )
