"""What a setting is (one row of the settings table) and how a given value of it is read: each
reader turns a value from a flag or the settings file into the value used, or raises a one-line
UserError saying why it cannot."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from autoresearch.errors import UserError
from autoresearch.rules.setting_parsers import (
    non_negative,
    parse_direction,
    parse_gpus,
    parse_noise,
    parse_trackers,
    string_list,
)

WEEK = 7 * 24 * 3600  # no run, agent call or night is longer: a bigger number is a typo
SESSION = "session"  # frozen with the session when it starts
LOOP = "loop"  # read by each `loop` from its flags and the settings file


class Setting(NamedTuple):
    """One setting: ``read`` turns a given value (never None) into the value used."""

    name: str
    read: Callable[[Setting, Any], Any]
    help: str  # ``{default}`` stands for the default
    part: str  # SESSION or LOOP
    commands: frozenset[str]  # the commands that take it as a flag
    default: Any = None
    kind: type = str  # what a number is read as
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    repeatable: bool = False  # a flag given again adds a value; a list in the file
    in_file: bool = True  # False: on the command line only (an API key is no file's business)
    changeable: bool = False  # `autoresearch config` may change it in a running session
    clearable: bool = False  # ... and take it away again with the value `none`

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: object) -> Any:
        """The value to use: the default when none was given, else the given one, checked."""
        return self.default if value is None else self.read(self, value)


# ----- how a value is read -------------------------------------------------------------------


def as_given(_setting: Setting, value: object) -> object:
    return value


def switch(_setting: Setting, value: object) -> bool:
    return bool(value)


def integer(_setting: Setting, value: object) -> int:
    return int(value)  # type: ignore[call-overload]  # argparse has read it as one


def seconds(setting: Setting, value: object) -> float | int:
    """A positive number (of seconds, as it is for most of them)."""
    message = f"{setting.name} must be a positive number of seconds, not {value!r}"
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError(message) from None
    if not math.isfinite(number) or number <= 0:
        raise UserError(message)
    if number > WEEK:
        raise UserError(f"{setting.name} must be at most a week ({WEEK} s), not {value!r}")
    return setting.kind(number)  # type: ignore[no-any-return]


def number(setting: Setting, value: object) -> float | int:
    """A number of ``setting.kind``, at least ``setting.minimum``."""
    name = setting.name.replace("_", "-")
    try:
        read = setting.kind(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(read):
        raise UserError(f"{name} must be a finite number, not {value!r}")
    minimum = setting.minimum if setting.minimum is not None else 0
    if read < minimum:
        raise UserError(f"{name} must be at least {minimum}, not {value!r}")
    if setting.maximum is not None and read > setting.maximum:
        raise UserError(f"{name} must be at most {setting.maximum:g}, not {value!r}")
    return read  # type: ignore[no-any-return]


def count(setting: Setting, value: object) -> int:
    """A whole number of at least ``setting.minimum``, as its flag writes it."""
    try:
        read = int(str(value))
    except ValueError:
        raise UserError(f"{setting.flag} must be a whole number, not {value!r}") from None
    minimum = int(setting.minimum or 0)
    if read < minimum:
        raise UserError(f"{setting.flag} must be at least {minimum}, not {value!r}")
    return read


def choice(setting: Setting, value: object) -> str:
    word = str(value or setting.default)
    if word not in setting.choices:
        raise UserError(f"{setting.flag} must be one of {', '.join(setting.choices)}, not {word!r}")
    return word


def texts(setting: Setting, value: object) -> list[str]:
    return string_list(value, setting.name)


def direction(_setting: Setting, value: object) -> str:
    return parse_direction(value)


def noise(_setting: Setting, value: object) -> str:
    return parse_noise(value)


def amount(setting: Setting, value: object) -> str:
    """An absolute amount or a percentage such as ``0.5%``, validated and kept as text."""
    text = str(value).strip()
    if non_negative(text[:-1] if text.endswith("%") else text) is None:
        name = setting.name.replace("_", " ")
        raise UserError(f"{name} {value!r}: use a number >= 0, or a percentage like 0.5%")
    return text


def trackers(_setting: Setting, value: object) -> tuple[str, ...]:
    return parse_trackers(value)


def devices(_setting: Setting, value: object) -> tuple[str, ...]:
    """``0,1,2`` on the command line, ``gpus = [0, 1, 2]`` in a settings file."""
    if isinstance(value, list | tuple):
        value = ",".join(str(gpu) for gpu in value)
    return parse_gpus(str(value)) if value else ()
