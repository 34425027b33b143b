"""Knobs: literals in the experiment's code that the built-in tuner may set.

A knob is a module-level assignment ``NAME = literal`` (or ``NAME: type = literal``) in a Python
file of the repository, declared in the settings file::

    [[knob]]
    file = "train.py"
    name = "LEARNING_RATE"
    low = 0.0001
    high = 1.0
    log = true

Its type comes from the literal (an int literal makes an int knob, a float one a float knob)
unless ``type`` says otherwise or ``choices`` are given. Setting a knob rewrites only the
characters of its literal, so the rest of the file stays byte for byte as the user wrote it.
"""

from __future__ import annotations

import ast
import math
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from autoresearch.errors import UserError

Value = int | float | str | bool | None

KNOB_KEYS = ("file", "name", "type", "low", "high", "log", "choices")
KINDS = ("int", "float", "choice")
# Enough precision to tune with, short enough to read in a ledger description.
SIGNIFICANT_DIGITS = 4
# How far a nudge moves a knob: a factor on a log scale, else a fraction of the range.
NUDGE_FACTOR = 1.25
NUDGE_FRACTION = 0.05

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


class Knob(NamedTuple):
    """One declared knob: where it lives and the values it may take."""

    file: str
    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Value, ...] = ()

    def contains(self, value: Value) -> bool:
        """Whether the tuner could have picked this value."""
        if self.kind == "choice":
            return any(same_value(value, choice) for choice in self.choices)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        assert self.low is not None and self.high is not None
        return self.low <= value <= self.high

    def snap(self, value: Value) -> Value:
        """The value as it will be written: ints whole, floats to a few significant digits.

        Rounded before the tuner records it, so the file, the ledger and the study agree.
        """
        if self.kind == "choice":
            return value
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            return int(min(max(round(float(value)), self.low), self.high))  # type: ignore[arg-type]
        rounded = float(f"{float(value):.{SIGNIFICANT_DIGITS}g}")  # type: ignore[arg-type]
        return min(max(rounded, float(self.low)), float(self.high))

    def nudge(self, value: Value, rng: random.Random) -> Value:
        """A value near ``value`` but different, for when the sampler offers nothing new."""
        if self.kind == "choice":
            return rng.choice([choice for choice in self.choices if not same_value(choice, value)])
        assert self.low is not None and self.high is not None
        number = float(value)  # type: ignore[arg-type]
        for direction in rng.sample((1, -1), 2):
            if self.log:
                moved = number * NUDGE_FACTOR**direction
            else:
                moved = number + direction * NUDGE_FRACTION * (self.high - self.low)
            if self.kind == "int" and round(moved) == number:
                moved = number + direction
            candidate = self.snap(moved)
            if not same_value(candidate, value):
                return candidate
        return value


class Literal(NamedTuple):
    """Where a knob's literal sits in its file (byte offsets) and what it says."""

    value: Value
    start: int
    end: int
    text: str
    line: int


def parse_knobs(raw: Sequence[Mapping[str, object]], repo: Path) -> list[Knob]:
    """Validate the declared knobs against the files in ``repo``; one-line UserError if wrong."""
    knobs: list[Knob] = []
    for index, declaration in enumerate(raw, start=1):
        knob = _parse_knob(index, declaration, repo)
        if any(other.name == knob.name for other in knobs):
            raise UserError(f"knob {knob.name} is declared twice; knob names must be unique")
        knobs.append(knob)
    return knobs


def read_values(knobs: Sequence[Knob], repo: Path) -> dict[str, Value]:
    """Each knob's current value, read from its file under ``repo``."""
    return {
        knob.name: locate(_read_source(repo, knob.file, knob.name), knob.file, knob.name).value
        for knob in knobs
    }


def rewrite(knobs: Sequence[Knob], repo: Path, values: Mapping[str, Value]) -> None:
    """Write ``values`` (by knob name) into the files; only the literals' characters change."""
    by_file: dict[str, list[Knob]] = {}
    for knob in knobs:
        if knob.name in values:
            by_file.setdefault(knob.file, []).append(knob)
    for file, file_knobs in by_file.items():
        path = repo / file
        source = _read_source(repo, file, file_knobs[0].name)
        edits = sorted(
            ((locate(source, file, knob.name), values[knob.name]) for knob in file_knobs),
            key=lambda edit: edit[0].start,
            reverse=True,
        )
        updated = source
        for literal, value in edits:
            text = render(value, literal.text).encode("utf-8")
            updated = updated[: literal.start] + text + updated[literal.end :]
        if updated != source:
            path.write_bytes(updated)


def describe_change(old: Mapping[str, Value], new: Mapping[str, Value]) -> str:
    """``LR 0.04 -> 0.031, WIDTH 512 -> 640``: the knobs whose value changed, in order."""
    changes = [
        f"{name} {render(old[name], '') if name in old else '?'} -> {render(value, '')}"
        for name, value in new.items()
        if name not in old or not same_value(old[name], value)
    ]
    return ", ".join(changes) if changes else "no knob changed"


def render(value: Value, previous_text: str) -> str:
    """Python source for a value; a string keeps the quote style of the literal it replaces."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as exactly this float.
        return repr(value)
    if previous_text.lstrip("rRbBuU").startswith('"') and not re.search(r'["\\\n]', value):
        return f'"{value}"'
    return repr(value)


def locate(source: bytes, file: str, name: str) -> Literal:
    """Find ``NAME = literal`` at module level in a file's source."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        raise UserError(f"knob {name}: {file} does not parse ({error})") from None
    assigned = [
        node.value
        for node in tree.body
        if node_assigns(node, name) and getattr(node, "value", None) is not None
    ]
    if not assigned:
        raise UserError(f"knob {name}: no module-level `{name} = <literal>` in {file}")
    if len(assigned) > 1:
        raise UserError(
            f"knob {name}: {file} assigns {name} {len(assigned)} times at module"
            " level; a knob needs exactly one assignment"
        )
    node = assigned[0]
    start = _offset(source, node.lineno, node.col_offset)
    end = _offset(source, node.end_lineno or node.lineno, node.end_col_offset or 0)
    text = source[start:end].decode("utf-8", errors="replace")
    if not _is_literal(node):
        raise UserError(f"knob {name}: {file}:{node.lineno} sets it to `{text}`, not a literal")
    value = ast.literal_eval(node)
    if not _reads_back(text, value):
        # Offsets are UTF-8 columns; a file in another encoding cannot be edited in place.
        raise UserError(f"knob {name}: cannot edit {file} in place (is it UTF-8?)")
    return Literal(value, start, end, text, node.lineno)


def node_assigns(node: ast.stmt, name: str) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    return False


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = node.operand
        return isinstance(operand, ast.Constant) and _is_number(operand.value)
    return isinstance(node, ast.Constant) and not isinstance(node.value, bytes | complex)


def _reads_back(text: str, value: Value) -> bool:
    try:
        return same_value(ast.literal_eval(text), value)
    except (ValueError, SyntaxError):
        return False


def _offset(source: bytes, line: int, column: int) -> int:
    """Byte offset of a (1-based line, UTF-8 byte column) position, as ast reports them."""
    starts = [len(_BOM) if source.startswith(_BOM) else 0]
    starts += [match.end() for match in _LINE_BREAK.finditer(source)]
    return starts[line - 1] + column


def _read_source(repo: Path, file: str, name: str) -> bytes:
    try:
        return (repo / file).read_bytes()
    except OSError as error:
        raise UserError(f"knob {name}: cannot read {file} ({error.strerror})") from None


def _parse_knob(index: int, declaration: Mapping[str, object], repo: Path) -> Knob:
    if not isinstance(declaration, Mapping):
        raise UserError(f"knob #{index} must be a table ([[knob]] with file, name, ...)")
    unknown = sorted(set(declaration) - set(KNOB_KEYS))
    if unknown:
        raise UserError(
            f"knob #{index}: unknown key(s) {', '.join(unknown)} (known: {', '.join(KNOB_KEYS)})"
        )
    file, name = declaration.get("file"), declaration.get("name")
    if not isinstance(file, str) or not file.strip():
        raise UserError(f"knob #{index}: `file` must name a Python file in the repository")
    if not isinstance(name, str) or not name.isidentifier():
        raise UserError(f"knob #{index}: `name` must be a Python variable name, not {name!r}")
    _check_inside(repo, file, name)
    literal = locate(_read_source(repo, file, name), file, name)
    kind = declaration.get("type")
    if kind is None:
        kind = "choice" if "choices" in declaration else _kind_of(name, literal)
    if kind not in KINDS:
        raise UserError(f"knob {name}: type {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "choice":
        return _choice_knob(file, name, declaration)
    return _numeric_knob(file, name, str(kind), declaration, literal)


def _check_inside(repo: Path, file: str, name: str) -> None:
    path = (repo / file).resolve()
    if not path.is_relative_to(repo.resolve()):
        raise UserError(f"knob {name}: {file} is outside the repository")
    if not path.is_file():
        raise UserError(f"knob {name}: no file {file} in the repository")


def _kind_of(name: str, literal: Literal) -> str:
    if isinstance(literal.value, bool) or not _is_number(literal.value):
        raise UserError(
            f"knob {name}: its literal `{literal.text}` is not a number; give choices = [...]"
        )
    return "int" if isinstance(literal.value, int) else "float"


def _choice_knob(file: str, name: str, declaration: Mapping[str, object]) -> Knob:
    misplaced = sorted({"low", "high", "log"} & set(declaration))
    if misplaced:
        raise UserError(f"knob {name}: {', '.join(misplaced)} do not apply to a choice knob")
    choices = declaration.get("choices")
    if not isinstance(choices, list) or len(choices) < 2:
        raise UserError(f"knob {name}: a choice knob needs choices = [...] with two or more")
    for choice in choices:
        if not isinstance(choice, str | int | float | bool):
            raise UserError(f"knob {name}: choice {choice!r} is not a string, number or boolean")
    if len({(type(choice), choice) for choice in choices}) < len(choices):
        raise UserError(f"knob {name}: choices repeat a value")
    return Knob(file, name, "choice", choices=tuple(choices))


def _numeric_knob(
    file: str, name: str, kind: str, declaration: Mapping[str, object], literal: Literal
) -> Knob:
    if "choices" in declaration:
        raise UserError(f'knob {name}: choices go with type = "choice", not type = "{kind}"')
    value = literal.value
    if isinstance(value, bool) or not _is_number(value):
        raise UserError(f"knob {name}: `{literal.text}` is not a number for a {kind} knob")
    if kind == "int" and not isinstance(value, int):
        raise UserError(
            f'knob {name}: `{literal.text}` is not an int literal; write an int or type = "float"'
        )
    low, high = declaration.get("low"), declaration.get("high")
    if low is None or high is None:
        raise UserError(f"knob {name}: a {kind} knob needs both low and high")
    for label, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not _is_number(bound) or not math.isfinite(bound):
            raise UserError(f"knob {name}: `{label}` must be a finite number, not {bound!r}")
        if kind == "int" and not isinstance(bound, int):
            raise UserError(
                f"knob {name}: {label} = {bound!r} is not an integer, and {name} is an int knob"
                f' (its literal is `{literal.text}`); write type = "float" to tune it as a float'
            )
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if low >= high:
        raise UserError(f"knob {name}: low ({low}) must be below high ({high})")
    log = declaration.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"knob {name}: `log` must be true or false")
    if log and low <= 0:
        raise UserError(f"knob {name}: a log-scale knob needs low > 0, not {low}")
    # A current value outside [low, high] is fine: it is where the search starts, not a sample.
    return Knob(file, name, kind, low=low, high=high, log=log)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_value(left: object, right: object) -> bool:
    """Equal and of the same kind: a choice of ``1`` is not the choice ``True``."""
    if isinstance(left, bool) != isinstance(right, bool) or isinstance(left, str) != isinstance(
        right, str
    ):
        return False
    return left == right
