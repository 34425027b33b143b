"""results.tsv: read any ledger tolerantly, append rows durably.

The ledger is the record of a session and is never rewritten: rows are only appended, each one
flushed and fsynced before the caller goes on. Reading tolerates hand edits and corrupt lines
(they are reported, not dropped from the file), and Karpathy's published format, whose first
commit cell is the word ``baseline``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.rules import formatting
from autoresearch.rules.columns import PARALLEL_COLUMNS, REASON_COLUMN, RUN_COLUMNS, run_column
from autoresearch.rules.formatting import printable
from autoresearch.store.files import append_lines

if TYPE_CHECKING:
    from _typeshed import StrPath

STATUSES = ("keep", "discard", "crash")


class Row(NamedTuple):
    """One experiment as recorded. ``values`` holds every cell by column name, as written."""

    line: int
    commit: str
    value: float
    status: str
    description: str
    values: Mapping[str, str]

    def number(self, column: str) -> float | None:
        """A numeric cell, or None when it is missing or not a finite number."""
        return parse_number(self.values.get(column, ""))


class Ledger(NamedTuple):
    columns: list[str]
    rows: list[Row]
    problems: list[str]
    data_lines: int
    path: StrPath | None = None

    @property
    def metric(self) -> str:
        return self.columns[1]

    @property
    def secondary(self) -> list[str]:
        """Metric columns after the primary one, up to the bookkeeping columns."""
        runs = [self.columns.index(name) for name in self.run_columns.values()]
        if runs:  # the tool's own ledger: its run columns follow the metrics
            return self.columns[2 : min(runs)]
        names = []
        for name in self.columns[2:]:
            if name in BOOKKEEPING_COLUMNS:
                break
            names.append(name)
        return names

    @property
    def run_columns(self) -> dict[str, str]:
        """The run columns this ledger has (``seconds``, ``cost_usd``, ...), by what they are
        called in it: a metric may have taken a run column's usual name."""
        after_primary = self.columns[2:]
        found = {role: run_column(after_primary, role) for role in RUN_COLUMNS}
        return {role: name for role, name in found.items() if name is not None}

    def run_number(self, row: Row, role: str) -> float | None:
        """A row's run column (``seconds``, ``cost_usd``), whatever it is called here."""
        name = self.run_columns.get(role)
        return None if name is None else row.number(name)

    def kept_row(self, commit: str) -> Row | None:
        """The last keep recorded for a full commit hash: where the keep ref's metric is read."""
        for row in reversed(self.rows):
            if row.status == "keep" and row.commit and commit.startswith(row.commit):
                return row
        return None

    def row_for(self, commit: str) -> Row | None:
        """The last row recorded for a commit (any hash prefix of at least 4 characters)."""
        for row in reversed(self.rows):
            if row.commit and (commit.startswith(row.commit) or row.commit.startswith(commit)):
                return row
        return None


# In a ledger without the tool's run columns, everything before the first of these is a metric.
BOOKKEEPING_COLUMNS = (
    *RUN_COLUMNS,
    *PARALLEL_COLUMNS,
    "holdout",
    REASON_COLUMN,
    "status",
    "description",
)


def parse_number(cell: str) -> float | None:
    try:
        number = float(cell)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def sanitize(text: str) -> str:
    """One cell of text: no tabs or line breaks, which would break the TSV, and nothing that is
    not UTF-8 (a description typed in a Latin-1 terminal), which could not be written at all;
    characters that act on a terminal are written as their escapes."""
    one_line = " ".join(_valid_utf8(str(text)).replace("\t", " ").splitlines()).strip()
    return printable(one_line)


def _valid_utf8(text: str) -> str:
    """Bytes that were not UTF-8 (carried as surrogates since argv was read) become U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte at all
        return text.encode("utf-8", "replace").decode("utf-8")


def parse_lines(lines: Iterable[str], path: StrPath | None = None) -> Ledger:
    iterator = iter(lines)
    header_line = next(iterator, "")
    columns = header_line.rstrip("\r\n").split("\t")
    if len(columns) < 3 or columns[0] != "commit" or "status" not in columns:
        where = f"{path}: " if path else ""
        raise ValueError(f"{where}not a ledger (header must start with 'commit' and name 'status')")
    rows: list[Row] = []
    problems: list[str] = []
    data_lines = 0
    status_at = columns.index("status")
    description_at = columns.index("description") if "description" in columns else None
    width = len(columns)
    for number, raw in enumerate(iterator, start=2):
        text = raw.rstrip("\r\n")
        if not text.strip():
            continue
        data_lines += 1
        cells = text.split("\t")
        if len(cells) < width:
            problems.append(f"line {number}: {len(cells)} cells where {width} were expected")
            continue
        if len(cells) > width and description_at == width - 1:
            # A description that kept a tab from a hand edit: it is still one description.
            cells = cells[: width - 1] + [" ".join(cells[width - 1 :])]
        status = cells[status_at].strip()
        if status not in STATUSES:
            problems.append(f"line {number}: unknown status {status!r}")
            continue
        value = parse_number(cells[1])
        if value is None:
            problems.append(f"line {number}: {columns[1]} {cells[1]!r} is not a number")
            continue
        rows.append(
            Row(
                line=number,
                commit=cells[0].strip(),
                value=value,
                status=status,
                # Whoever wrote the file, a description never acts on the terminal showing it.
                description=printable(cells[description_at]) if description_at is not None else "",
                values=dict(zip(columns, cells, strict=False)),
            )
        )
    return Ledger(columns, rows, problems, data_lines, path)


def read_ledger(path: StrPath) -> Ledger:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        return parse_lines(handle, path)


def read_header(path: StrPath) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.readline().rstrip("\r\n").split("\t")


def create_ledger(path: StrPath, columns: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(columns) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def append_row(path: StrPath, cells: Mapping[str, object]) -> str:
    """Append one row in the file's own column order; returns the line written."""
    line = render_row(path, cells)
    append_lines(path, [line])
    return line + "\n"


def render_row(path: StrPath, cells: Mapping[str, object]) -> str:
    """One row as the ledger at ``path`` would hold it, without its newline.

    The file's header decides the order, so a ledger keeps its shape whatever the caller knows.
    """
    columns = read_header(path)
    rendered = []
    for column in columns:
        cell = cells.get(column, "")
        if isinstance(cell, float | int) and not isinstance(cell, bool):
            cell = formatting.number(cell)
        rendered.append(sanitize(str(cell if cell is not None else "")))
    return "\t".join(rendered)
