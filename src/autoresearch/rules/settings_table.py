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
from typing import Any

from autoresearch.rules.setting import (
    LOOP,
    SESSION,
    WEEK,
    Setting,
    amount,
    as_given,
    choice,
    count,
    devices,
    direction,
    integer,
    noise,
    number,
    seconds,
    switch,
    texts,
    trackers,
)
from autoresearch.rules.verdict import DEFAULT_MAX_RUNS

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
        default=DEFAULT_MAX_RUNS,
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
