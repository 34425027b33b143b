"""The session's settings: merge the settings file's values and the flags, validate.

Each setting is declared in `settings_table`; this module makes the session's record of them.

Every problem is a one-line UserError raised before anything is changed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from autoresearch.errors import UserError
from autoresearch.rules.columns import refuse_ambiguous
from autoresearch.rules.metrics import compile_pattern
from autoresearch.rules.setting_parsers import string_list
from autoresearch.rules.settings_table import (
    BY_NAME,
    LOOP_KEYS,
    SESSION,
    default,
    merged,
    unknown_keys,
)

if TYPE_CHECKING:
    import datetime


PROGRAM_FILE = "program.md"
NO_RUN = "no run command: give --run CMD or `run` in the settings file"
# Patterns kept as text: `re` compiles and caches them on first use, and `try` never uses them.
_NAME = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"
_TAG = r"[A-Za-z0-9][A-Za-z0-9._-]*"


class Amount(NamedTuple):
    """An amount of the metric: absolute, or a percentage of the baseline's magnitude."""

    number: float = 0.0
    percent: bool = False

    def of(self, baseline: float | None) -> float:
        """In metric units; a percentage is 0 while there is no baseline."""
        if not self.percent:
            return self.number
        return 0.0 if baseline is None else self.number / 100.0 * abs(baseline)

    @classmethod
    def parse(cls, text: str | None) -> Amount:
        if not text:
            return cls()
        percent = text.endswith("%")
        return cls(float(text[:-1] if percent else text), percent)


class Constraint(NamedTuple):
    """A guardrail on a metric, such as ``peak_vram_mb<=80000``."""

    name: str
    operator: str
    limit: float

    def allows(self, value: float) -> bool:
        return {
            "<=": value <= self.limit,
            "<": value < self.limit,
            ">=": value >= self.limit,
            ">": value > self.limit,
            "==": value == self.limit,
        }[self.operator]

    def __str__(self) -> str:
        return f"{self.name}{self.operator}{self.limit:g}"


class Parsed(NamedTuple):
    """The settings the verdict reads as numbers, parsed once when the settings are made (the
    text stays in the settings, as the user wrote it and as the session file keeps it)."""

    sigma: float | None = None  # a fixed noise; None for ``auto`` and ``off``
    min_delta: Amount = Amount()
    complexity_cost: Amount = Amount()
    constraints: tuple[Constraint, ...] = ()


_LISTS = ("scope", "protect", "also", "knobs", "constraint", "track", "writable", "share")
_LISTS += ("pass_env", "artifact")


class Settings(NamedTuple):
    """One session's settings, frozen at init."""

    tag: str
    run: str
    metric: str
    direction: str = default("direction")
    pattern: str | None = None
    budget: float | None = None
    timeout: float | None = None
    scope: tuple[str, ...] = ()
    protect: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    noise: str = default("noise")
    min_delta: str | None = None
    repeats: int = default("repeats")
    complexity_cost: str | None = None
    constraint: tuple[str, ...] = ()
    holdout: str | None = None
    holdout_metric: str | None = None
    knobs: tuple[dict[str, Any], ...] = ()
    track: tuple[str, ...] = ()
    sandbox: str = default("sandbox")
    no_network: bool = False
    writable: tuple[str, ...] = ()
    share: tuple[str, ...] = ()
    pass_env: tuple[str, ...] = ()
    eval: str | None = None
    artifact: tuple[str, ...] = ()
    loop: Mapping[str, Any] = MappingProxyType({})
    parsed: Parsed = Parsed()  # made from the fields above; never written to a file

    @property
    def holdout_column(self) -> str | None:
        return f"holdout_{self.holdout_metric or self.metric}" if self.holdout else None

    @property
    def kill_after(self) -> float | None:
        """A run is killed at this many seconds: --timeout, else twice the budget, else never."""
        if self.timeout is not None:
            return self.timeout
        return 2 * self.budget if self.budget is not None else None

    def to_dict(self) -> dict[str, Any]:
        values = self._asdict()
        del values["parsed"]
        values["knobs"] = [dict(knob) for knob in self.knobs]
        values["loop"] = dict(self.loop)
        return values

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        known = set(cls._fields) - {"parsed"}
        values = {key: value for key, value in data.items() if key in known}
        for key in _LISTS:
            values[key] = tuple(values.get(key) or ())
        return with_parsed(cls(**values))


def with_parsed(settings: Settings, constraints: tuple[Constraint, ...] | None = None) -> Settings:
    """The settings with their numbers parsed, once, for every measurement to use
    (``constraints``: parsed already)."""
    if constraints is None:
        constraints = tuple(parse_constraint(text) for text in settings.constraint)
    fixed = settings.noise not in ("auto", "off")
    parsed = Parsed(
        sigma=float(settings.noise) if fixed else None,
        min_delta=Amount.parse(settings.min_delta),
        complexity_cost=Amount.parse(settings.complexity_cost),
        constraints=constraints,
    )
    return settings._replace(parsed=parsed)


class Given(NamedTuple):
    """The settings as the user gave them: the settings file's values, the file they came from
    (None: there is none), and the session's settings given as flags (None: not given)."""

    file_values: Mapping[str, Any]
    settings_file: str | None
    flags: Mapping[str, Any]


def build_settings(
    file_values: Mapping[str, Any], flags: Mapping[str, Any], need_run: bool = True
) -> Settings:
    """Merge the file's values with the flags given (a flag set to None was not given).

    ``need_run``: False where nothing runs yet (an imported history); the run command is
    then set later with `autoresearch config run CMD`."""
    unknown = unknown_keys(file_values)
    if unknown:
        raise UserError(f"unknown setting(s): {', '.join(unknown)}")
    loop = {k: v for k, v in file_values.items() if k in LOOP_KEYS}
    knobs = file_values.get("knob", [])
    if not isinstance(knobs, list) or not all(isinstance(k, dict) for k in knobs):
        raise UserError("knob must be a list of tables ([[knob]] in TOML)")
    values = merged(flags, file_values, SESSION)
    return validate(values, knobs=tuple(knobs), loop=loop, need_run=need_run)


def _required_text(values: Mapping[str, Any], key: str, missing: str) -> str:
    value = values.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserError(missing)
    if not isinstance(value, str):
        raise UserError(f"{key} must be text in quotes, not {value!r}")
    return value


def validate(
    values: Mapping[str, Any],
    knobs: tuple[dict[str, Any], ...] = (),
    loop: Mapping[str, Any] | None = None,
    need_run: bool = True,
) -> Settings:
    """The session's settings from their values, each read as the table says, then the checks
    that look at several at once."""
    run = _required_text(values, "run", NO_RUN) if need_run or values.get("run") is not None else ""
    metric = _required_text(
        values, "metric", "no metric: give --metric NAME or `metric` in the settings file"
    )
    for name in [metric, *string_list(values.get("also"), "also")]:
        if not re.match(_NAME, name):
            raise UserError(f"metric name {name!r} must be a word (letters, digits, _ . -)")
    tag = values.get("tag") or default_tag()
    if not isinstance(tag, str) or not re.fullmatch(_TAG, tag) or not _ref_safe(tag):
        raise UserError(f"tag {tag!r} is not usable in a branch name (letters, digits, . _ -)")
    pattern = values.get("pattern")
    if pattern is not None:
        try:
            compile_pattern(str(pattern))
        except ValueError as error:
            raise UserError(f"bad --pattern: {error}") from None
    read = {key: BY_NAME[key].check(values.get(key)) for key in _READ}
    constraints = read["constraint"] or []
    rules = tuple(parse_constraint(text) for text in constraints)
    also = read["also"] or []
    for name in (rule.name for rule in rules):
        if name != metric and name not in also:
            also.append(name)  # a constrained metric must be read, so it is recorded too
    holdout = values.get("holdout")
    if holdout is not None and (not isinstance(holdout, str) or not holdout.strip()):
        raise UserError("holdout must be a command")
    holdout_metric = values.get("holdout_metric")
    if holdout_metric is not None and not re.match(_NAME, str(holdout_metric)):
        raise UserError(f"holdout metric name {holdout_metric!r} must be a word")
    settings = Settings(
        tag=tag,
        run=run.strip(),
        metric=metric,
        direction=read["direction"],
        pattern=str(pattern) if pattern is not None else None,
        budget=read["budget"],
        timeout=read["timeout"],
        scope=tuple(read["scope"] or ()),
        protect=tuple(read["protect"] or ()),
        also=tuple(also),
        noise=read["noise"],
        min_delta=read["min_delta"],
        repeats=read["repeats"],
        complexity_cost=read["complexity_cost"],
        constraint=tuple(constraints),
        holdout=holdout.strip() if isinstance(holdout, str) else None,
        holdout_metric=str(holdout_metric) if holdout_metric is not None else None,
        knobs=knobs,
        track=read["track"] or (),
        **_confinement(values, read),
        loop=dict(loop or {}),
    )
    refuse_ambiguous([settings.metric, *settings.also], settings.holdout_column)
    return with_parsed(settings, rules)


# The settings read by the table's rule alone; the others need a look at more than one value.
_READ = (
    "direction",
    "budget",
    "timeout",
    "scope",
    "protect",
    "also",
    "noise",
    "min_delta",
    "repeats",
    "complexity_cost",
    "constraint",
    "track",
    "sandbox",
    "no_network",
    "writable",
    "share",
    "pass_env",
    "artifact",
)
_VARIABLE = r"[A-Za-z_][A-Za-z0-9_]*"
_CONSTRAINT = r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(<=|>=|==|<|>)\s*(\S+)\s*$"


def _confinement(values: Mapping[str, Any], read: Mapping[str, Any]) -> dict[str, Any]:
    """What the sandbox and the trusted evaluation take, checked: folders as absolute paths,
    variables by name, outputs inside the checkout."""
    for name in read["pass_env"] or ():
        if not re.fullmatch(_VARIABLE, name):
            raise UserError(f"pass-env {name!r} is not an environment variable name")
    for path in read["artifact"] or ():
        parts = path.replace("\\", "/").split("/")
        if os.path.isabs(path) or ".." in parts or not path.strip("/. "):
            raise UserError(f"artifact {path!r} must be a path inside the checkout")
    folders: dict[str, tuple[str, ...]] = {}
    for key in ("writable", "share"):
        paths = [os.path.abspath(os.path.expanduser(p)) for p in read[key] or ()]
        for path in paths:
            if path == os.sep:
                raise UserError(f"{key} {path!r}: the whole file system cannot be shared")
        folders[key] = tuple(paths)
    evaluation = values.get("eval")
    if evaluation is not None and (not isinstance(evaluation, str) or not evaluation.strip()):
        raise UserError("eval must be a command")
    if read["artifact"] and evaluation is None:
        raise UserError("artifact is for --eval: give the evaluation command too")
    return {
        "sandbox": read["sandbox"],
        "no_network": bool(read["no_network"]),
        "pass_env": tuple(read["pass_env"] or ()),
        "eval": evaluation.strip() if isinstance(evaluation, str) else None,
        "artifact": tuple(read["artifact"] or ()),
        **folders,
    }


def parse_constraint(text: str) -> Constraint:
    match = re.match(_CONSTRAINT, text)
    limit = None
    if match:
        try:
            limit = float(match.group(3))
        except ValueError:
            limit = None
    if not match or limit is None or not math.isfinite(limit):
        raise UserError(f"constraint {text!r}: write it as NAME<=NUMBER (or <, >=, >, ==)")
    return Constraint(match.group(1), match.group(2), limit)


def _ref_safe(tag: str) -> bool:
    """What git's ref rules add to the characters (``git check-ref-format`` has the last word,
    asked by ``Session.check_start`` before anything runs)."""
    return ".." not in tag and not tag.endswith((".", ".lock")) and "/." not in tag


def default_tag(today: datetime.date | None = None) -> str:
    """The date as Karpathy's sessions name it: ``nov25``."""
    if today is None:
        import datetime

        today = datetime.date.today()
    return today.strftime("%b").lower() + str(today.day)
