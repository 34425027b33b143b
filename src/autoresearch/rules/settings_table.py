"""Every setting, declared once: its name, how a value of it is read (type, bounds, choices), its
default, its help, whether the session freezes it or each loop reads it, and which commands take
it as a flag. The flags, the settings file's keys and the checks of a value are all made from
this table, so a new setting is one row here.

A value is checked the same way whether it came as a flag or from the settings file: every
problem is a one-line UserError, raised before anything is changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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


# ----- the table -----------------------------------------------------------------------------

_STARTS = frozenset({"init", "loop", "import", "doctor"})  # the commands that may start one
_RUNS = frozenset({"init", "loop"})  # the commands that may run its baseline
_LOOPS = frozenset({"loop", "doctor"})
_WORKERS = frozenset({"loop"})


def _session(name: str, read: Callable[[Setting, Any], Any], help: str, **more: Any) -> Setting:
    return Setting(name, read, help, SESSION, more.pop("commands", _STARTS), **more)


def _loop(name: str, read: Callable[[Setting, Any], Any], help: str, **more: Any) -> Setting:
    return Setting(name, read, help, LOOP, more.pop("commands", _LOOPS), **more)


SETTINGS: tuple[Setting, ...] = (
    _session("tag", as_given, "session name; branch autoresearch/TAG (default: date)"),
    _session("run", as_given, "the command that runs one experiment", changeable=True),
    _session("metric", as_given, "the metric NAME read from the run log"),
    _session(
        "direction",
        direction,
        "minimize (min, lower) or maximize (max, higher)",
        default="minimize",
    ),
    _session(
        "pattern",
        as_given,
        "regex with one capture group for the metric",
        changeable=True,
        clearable=True,
    ),
    _session(
        "budget",
        seconds,
        "seconds a run is meant to take; killed at 2x",
        kind=float,
        changeable=True,
        clearable=True,
    ),
    _session(
        "timeout",
        seconds,
        "kill a run after this many seconds instead",
        kind=float,
        changeable=True,
        clearable=True,
    ),
    _session(
        "scope",
        texts,
        "files an experiment may change (repeatable)",
        metavar="GLOB",
        repeatable=True,
    ),
    _session(
        "protect",
        texts,
        "files no experiment may change (repeatable)",
        metavar="GLOB",
        repeatable=True,
    ),
    _session(
        "also", texts, "secondary metric to record (repeatable)", metavar="NAME", repeatable=True
    ),
    _session(
        "noise",
        noise,
        "{default} (default), off, or a fixed sigma",
        default="auto",
        changeable=True,
    ),
    _session(
        "min_delta",
        amount,
        "smallest improvement worth keeping: X or X%",
        changeable=True,
        clearable=True,
    ),
    _session(
        "repeats",
        seconds,
        "most runs of one candidate (default {default})",
        default=4,
        kind=int,
        changeable=True,
    ),
    _session("complexity_cost", amount, "metric units (or % of baseline) per line"),
    _session(
        "constraint",
        texts,
        "guardrail on a metric (repeatable)",
        metavar="NAME<=VALUE",
        repeatable=True,
    ),
    _session("holdout", as_given, "command run after each keep only", metavar="CMD"),
    _session("holdout_metric", as_given, "metric the holdout prints (default: METRIC)"),
    _session(
        "track",
        trackers,
        "send every experiment to mlflow or wandb too (repeatable)",
        metavar="NAME",
        repeatable=True,
    ),
    _session(
        "sandbox",
        choice,
        "run every experiment in a sandbox: {default} (default: where it works), on, off",
        default="auto",
        choices=("auto", "on", "off"),
        changeable=True,
    ),
    _session("no_network", switch, "runs get no network (in the sandbox)", default=False),
    _session(
        "writable",
        texts,
        "folder the sandboxed run may write besides its checkout, e.g. a cache (repeatable)",
        metavar="PATH",
        repeatable=True,
    ),
    _session(
        "share",
        texts,
        "folder of the home the sandboxed run may read, e.g. ~/.cache/huggingface (repeatable)",
        metavar="PATH",
        repeatable=True,
    ),
    _session(
        "pass_env",
        texts,
        "environment variable a run gets besides the usual ones (repeatable)",
        metavar="NAME",
        repeatable=True,
    ),
    _session(
        "eval",
        as_given,
        "trusted evaluation run after each run, from the protected files; the metric comes from it",
        metavar="CMD",
    ),
    _session(
        "artifact",
        texts,
        "file or folder the run writes for --eval to read, removed before each run (repeatable)",
        metavar="PATH",
        repeatable=True,
    ),
    _session(
        "no_baseline",
        switch,
        "do not run the baseline now (the first `try` measures it)",
        commands=_RUNS,
        in_file=False,
    ),
    _loop("agent", as_given, "claude, codex, aider, openai, anthropic, command, tune"),
    _loop("model", as_given, "the model the agent should use"),
    _loop("base_url", as_given, "API endpoint for openai / anthropic"),
    _loop("api_key", as_given, "API key (default: the usual environment variable)", in_file=False),
    _loop("agent_cmd", as_given, "shell command for --agent command"),
    _loop("agent_arg", as_given, "extra argument for the agent CLI", repeatable=True),
    _loop(
        "agent_timeout",
        number,
        "seconds before an agent call is killed",
        kind=float,
        maximum=WEEK,
    ),
    _loop("program", as_given, "research program file (default: program.md)"),
    _loop(
        "max_fix_attempts",
        number,
        "fix calls after a crash (default {default})",
        default=2,
        kind=int,
    ),
    _loop(
        "max_failures",
        number,
        "failed agent calls in a row before stopping",
        default=5,
        kind=int,
        minimum=1,
    ),
    _loop(
        "max_crashes",
        number,
        "stop after N run crashes in a row (default {default}; 0: never)",
        default=10,
        kind=int,
    ),
    _loop("max_experiments", number, "stop after N experiments", kind=int, minimum=1),
    _loop("max_hours", number, "stop after H hours", kind=float),
    _loop("target", number, "stop once the best reaches VALUE", kind=float, minimum=-math.inf),
    _loop(
        "plateau",
        number,
        "stop after N experiments in a row without a keep",
        kind=int,
        minimum=1,
    ),
    _loop("max_cost", number, "stop once agents report USD spent", kind=float),
    _loop("seed", integer, "seed for the tuner", kind=int, in_file=False),
    _loop(
        "link",
        texts,
        "untracked file or folder a run needs, linked into its checkout (repeatable)",
        commands=frozenset({"loop", "try"}),
        metavar="PATH",
        repeatable=True,
    ),
    _loop(
        "workers",
        count,
        "experiments run at once (default 1, or one per GPU set)",
        commands=_WORKERS,
        minimum=1,
    ),
    _loop(
        "gpus", devices, "devices to share out among the runs", commands=_WORKERS, metavar="0,1,..."
    ),
    _loop(
        "gpus_per_run",
        count,
        "devices each run gets (default 1)",
        commands=_WORKERS,
        minimum=1,
    ),
    _loop(
        "pipeline",
        switch,
        "let the agent prepare the next candidate while a run goes",
        commands=_WORKERS,
        default=False,
    ),
    _loop(
        "executor",
        choice,
        "{default} (default) or ray",
        commands=_WORKERS,
        default="local",
        choices=("local", "ray"),
    ),
    _loop(
        "ray_address",
        as_given,
        "the Ray cluster to use (default: start one here)",
        commands=_WORKERS,
    ),
    _loop(
        "in_place",
        switch,
        "run in the tree the agent edits, not in a clean checkout (one worker only)",
        commands=_WORKERS,
        default=False,
    ),
)
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}
# The keys a settings file may hold, besides the tuner's ``[[knob]]`` tables.
SESSION_KEYS = frozenset(s.name for s in SETTINGS if s.part == SESSION and s.in_file)
LOOP_KEYS = frozenset(s.name for s in SETTINGS if s.part == LOOP and s.in_file)
# What `autoresearch config` may change in a running session, and what it may take away.
CHANGEABLE = tuple(s.name for s in SETTINGS if s.changeable)
CLEARABLE = tuple(s.name for s in SETTINGS if s.clearable)


def default(name: str) -> Any:
    return BY_NAME[name].default


def flag_values(flags: Mapping[str, Any] | object, part: str = SESSION) -> dict[str, Any]:
    """The settings of ``part`` a settings file may hold, as the command line gave them: None
    where a flag was not given (``flags``: parsed arguments, or their ``vars``)."""
    given = flags if isinstance(flags, Mapping) else vars(flags)
    return {s.name: given.get(s.name) for s in SETTINGS if s.part == part and s.in_file}


def merged(flags: Mapping[str, Any], file_values: Mapping[str, Any], part: str) -> dict[str, Any]:
    """The values of ``part`` given: the settings file's, each overridden by its flag."""
    values = {k: v for k, v in file_values.items() if k in BY_NAME and BY_NAME[k].in_file}
    values = {k: v for k, v in values.items() if BY_NAME[k].part == part}
    for setting in SETTINGS:
        value = flags.get(setting.name)
        if setting.part == part and value is not None and value != [] and value != ():
            values[setting.name] = value
    return values


def checked(values: Mapping[str, Any], part: str) -> dict[str, Any]:
    """Every setting of ``part``, checked and read, its default where none was given."""
    return {s.name: s.check(values.get(s.name)) for s in SETTINGS if s.part == part}


def unknown_keys(file_values: Mapping[str, Any]) -> list[str]:
    return sorted(set(file_values) - SESSION_KEYS - LOOP_KEYS - {"knob"})
