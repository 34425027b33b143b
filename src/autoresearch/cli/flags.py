"""The parser's building blocks: the shared formatter and the flags several commands take,
the settings' flags made from the table of settings."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from autoresearch.rules.setting import Setting, integer, switch
from autoresearch.rules.settings_table import SETTINGS


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
    """An ArgumentParser whose subcommands use the same formatter, and whose refusal of the
    command line is one line, as every other refusal is (argparse prints the usage first)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(**kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


Commands = argparse._SubParsersAction


def setting_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of the settings ``command`` takes, as the table of settings declares them."""
    for setting in SETTINGS:
        if command in setting.commands:
            add_flag(parser, setting)


def add_flag(parser: argparse.ArgumentParser, setting: Setting) -> None:
    # argparse formats help with %: a percent sign in the table's text is written twice.
    shown = setting.help.format(default=setting.default).replace("%", "%%")
    kwargs: dict[str, Any] = {"help": shown}
    if setting.read is switch:
        kwargs.update(action="store_true", default=None)  # None: not given, the file decides
    elif setting.repeatable:
        kwargs["action"] = "append"
    if setting.read is integer:
        kwargs["type"] = int
    if setting.metavar is not None:
        kwargs["metavar"] = setting.metavar
    parser.add_argument(setting.flag, **kwargs)


def ledger_flags(parser: argparse.ArgumentParser) -> None:
    """For the commands that read any ledger, with or without a session behind it."""
    parser.add_argument(
        "--results", metavar="PATH", help="read this ledger (any format) instead of a session's"
    )
    parser.add_argument(
        "--direction", help="minimize or maximize (default: the session's, or guessed)"
    )
