"""The session's settings: load from the settings file, merge command-line flags, validate.

Every problem is a one-line UserError raised before anything is changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.errors import UserError
from autoresearch.rules.columns import refuse_ambiguous
from autoresearch.rules.metrics import compile_pattern

if TYPE_CHECKING:
    import datetime
    from typing import Any


PROGRAM_FILE = "program.md"
NO_RUN = "no run command: give --run CMD or `run` in the settings file"
# Experiment trackers each experiment can be sent to (``--track``), as the registry names them.
TRACKERS = ("mlflow", "wandb")
_DIRECTION_WORDS = {
    "minimize": "minimize",
    "minimise": "minimize",
    "min": "minimize",
    "lower": "minimize",
    "maximize": "maximize",
    "maximise": "maximize",
    "max": "maximize",
    "higher": "maximize",
}
# Patterns kept as text: `re` compiles and caches them on first use, and `try` never uses them.
_NAME = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"
_TAG = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class Settings(NamedTuple):
    """One session's settings, frozen at init."""

    tag: str
    run: str
    metric: str
    direction: str = "minimize"
    pattern: str | None = None
    budget: float | None = None
    timeout: float | None = None
    scope: tuple[str, ...] = ()
    protect: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    noise: str = "auto"
    min_delta: str | None = None
    repeats: int = 4
    complexity_cost: str | None = None
    constraint: tuple[str, ...] = ()
    holdout: str | None = None
    holdout_metric: str | None = None
    knobs: tuple[dict[str, Any], ...] = ()
    track: tuple[str, ...] = ()
    loop: Mapping[str, Any] = MappingProxyType({})

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
        values["knobs"] = [dict(knob) for knob in self.knobs]
        values["loop"] = dict(self.loop)
        return values

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        known = set(cls._fields)
        values = {key: value for key, value in data.items() if key in known}
        for key in ("scope", "protect", "also", "knobs", "constraint", "track"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)


# Keys of the settings file beyond the session's own: the loop's options, read by `loop`.
LOOP_KEYS = {
    "agent",
    "model",
    "base_url",
    "agent_cmd",
    "agent_timeout",
    "max_fix_attempts",
    "max_failures",
    "max_crashes",
    "agent_arg",
    "program",
    "max_experiments",
    "max_hours",
    "target",
    "plateau",
    "max_cost",
    # Where and how many experiments run at once.
    "workers",
    "gpus",
    "gpus_per_run",
    "pipeline",
    "executor",
    "ray_address",
    "link",
    "in_place",
}
SESSION_KEYS = set(Settings._fields) - {"knobs", "loop"}


def flag_values(args: object) -> dict[str, Any]:
    """The session's settings as given on the command line: None where a flag was not given.

    Derived from the Settings fields, so a new setting needs only its flag in the parser.
    """
    return {name: getattr(args, name, None) for name in SESSION_KEYS}


def build_settings(
    file_values: Mapping[str, Any], flags: Mapping[str, Any], need_run: bool = True
) -> Settings:
    """Merge the file's values with the flags given (a flag set to None was not given).

    ``need_run``: False where nothing runs yet (an imported history); the run command is
    then set later with `autoresearch config run CMD`."""
    unknown = set(file_values) - SESSION_KEYS - LOOP_KEYS - {"knob"}
    if unknown:
        raise UserError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    merged: dict[str, Any] = {k: v for k, v in file_values.items() if k in SESSION_KEYS}
    for key, value in flags.items():
        if value is not None and value != () and value != []:
            merged[key] = value
    loop = {k: v for k, v in file_values.items() if k in LOOP_KEYS}
    knobs = file_values.get("knob", [])
    if not isinstance(knobs, list) or not all(isinstance(k, dict) for k in knobs):
        raise UserError("knob must be a list of tables ([[knob]] in TOML)")
    return validate(merged, knobs=tuple(knobs), loop=loop, need_run=need_run)


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
    run = _required_text(values, "run", NO_RUN) if need_run or values.get("run") is not None else ""
    metric = _required_text(
        values, "metric", "no metric: give --metric NAME or `metric` in the settings file"
    )
    for name in [metric, *_string_list(values.get("also"), "also")]:
        if not re.match(_NAME, name):
            raise UserError(f"metric name {name!r} must be a word (letters, digits, _ . -)")
    tag = values.get("tag") or default_tag()
    if not isinstance(tag, str) or not re.match(_TAG, tag) or ".." in tag or tag.endswith(".lock"):
        raise UserError(f"tag {tag!r} is not usable in a branch name (letters, digits, . _ -)")
    pattern = values.get("pattern")
    if pattern is not None:
        try:
            compile_pattern(str(pattern))
        except (ValueError, re.error) as error:
            raise UserError(f"bad --pattern: {error}") from None
    constraints = _string_list(values.get("constraint"), "constraint")
    also = _string_list(values.get("also"), "also")
    for text in constraints:
        name = parse_constraint(text).name
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
        direction=parse_direction(values.get("direction", "minimize")),
        pattern=str(pattern) if pattern is not None else None,
        budget=_positive(values.get("budget"), "budget"),
        timeout=_positive(values.get("timeout"), "timeout"),
        scope=tuple(_string_list(values.get("scope"), "scope")),
        protect=tuple(_string_list(values.get("protect"), "protect")),
        also=tuple(also),
        noise=parse_noise(values.get("noise", "auto")),
        min_delta=_min_delta(values.get("min_delta")),
        repeats=int(_positive(values.get("repeats", 4), "repeats") or 4),
        complexity_cost=_min_delta(values.get("complexity_cost"), "complexity cost"),
        constraint=tuple(constraints),
        holdout=holdout.strip() if isinstance(holdout, str) else None,
        holdout_metric=str(holdout_metric) if holdout_metric is not None else None,
        knobs=knobs,
        track=parse_trackers(values.get("track")),
        loop=dict(loop or {}),
    )
    refuse_ambiguous([settings.metric, *settings.also], settings.holdout_column)
    return settings


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


_CONSTRAINT = r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(<=|>=|==|<|>)\s*(\S+)\s*$"


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


def parse_trackers(value: object) -> tuple[str, ...]:
    """The trackers named, each once, in the order given; an unknown name is refused."""
    names: list[str] = []
    for name in _string_list(value, "track"):
        word = name.strip().lower()
        if word not in TRACKERS:
            raise UserError(f"unknown tracker {name!r}: use {' or '.join(TRACKERS)}")
        if word not in names:
            names.append(word)
    return tuple(names)


def parse_noise(value: object) -> str:
    """``auto``, ``off``, or a fixed sigma (a non-negative number), kept as text."""
    text = str(value).strip().lower()
    if text in ("auto", "off"):
        return text
    sigma = _non_negative(text)
    if sigma is None:
        raise UserError(f"noise {value!r}: use auto, off, or a sigma (a number >= 0)")
    return repr(sigma)


def _min_delta(value: object, name: str = "min delta") -> str | None:
    """An absolute amount or a percentage such as ``0.5%``, validated and kept as text."""
    if value is None:
        return None
    text = str(value).strip()
    if _non_negative(text[:-1] if text.endswith("%") else text) is None:
        raise UserError(f"{name} {value!r}: use a number >= 0, or a percentage like 0.5%")
    return text


def _non_negative(text: str) -> float | None:
    """The finite number of 0 or more that ``text`` spells, or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def parse_direction(word: object) -> str:
    direction = _DIRECTION_WORDS.get(str(word).strip().lower())
    if direction is None:
        raise UserError(f"direction {word!r}: use minimize or maximize (min/max, lower/higher)")
    return direction


def _positive(value: object, name: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a positive number of seconds, not {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise UserError(f"{name} must be a positive number of seconds, not {value!r}")
    return number


def _string_list(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise UserError(f"{name} must be a string or a list of strings")


def default_tag(today: datetime.date | None = None) -> str:
    """The date as Karpathy's sessions name it: ``nov25``."""
    if today is None:
        import datetime

        today = datetime.date.today()
    return today.strftime("%b").lower() + str(today.day)
