"""Adopting an existing ledger, Karpathy's format included, as a new session's history.

The session starts as `init` starts one, without running the baseline; the imported rows are
then appended to its ledger, mapped by column name, so that `status`, `plot` and `report` show
the whole history. The keep ref stays at HEAD: the imported commits may not exist here, so HEAD
stands for the last imported keep and the next `try` is compared against its value.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.reports.status import guess_direction
from autoresearch.rules import verdict
from autoresearch.rules.settings import build_settings
from autoresearch.store import git, journal
from autoresearch.store.files import LEDGER_FILE, SessionFiles, active_tag, append_lines
from autoresearch.store.ledger import Ledger, Row, read_header, sanitize

# The columns every ledger has and that are not measurements.
_STRUCTURE = ("commit", "status", "description")


class Adoption(NamedTuple):
    session: Session
    source: Path
    copy: Path
    rows: int
    direction_guessed: bool
    dropped: list[str]
    skipped: list[str]
    last_keep: Row | None


def session_values(
    ledger: Ledger, flags: Mapping[str, Any], file_values: Mapping[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The flags `init` would get, the metric and direction filled in from the ledger."""
    values = dict(flags)
    metric = flags.get("metric") or file_values.get("metric") or ledger.metric
    if metric not in ledger.columns:
        raise UserError(
            f"{ledger.path}: no column {metric!r} (columns: {', '.join(ledger.columns)}); "
            "name the metric's column with --metric"
        )
    values["metric"] = metric
    guessed = not (flags.get("direction") or file_values.get("direction"))
    if guessed:
        values["direction"] = guess_direction(ledger)
    return values, guessed


def _imported_line(row: Row, metric: str, columns: list[str]) -> str | None:
    """The row in the new ledger's columns, its cells as written; None when its metric is not a
    number."""
    if row.number(metric) is None:
        return None
    cells = {**row.values, "commit": row.commit, "description": row.description}
    return "\t".join(sanitize(cells.get(name, "")) for name in columns)


def _move_aside(source: Path, files: SessionFiles) -> Path | None:
    """The repository's own results.tsv must leave its place before the session can start."""
    if source.resolve() != Path(files.ledger).resolve():
        return None
    owner = active_tag(files.repo)
    if owner is not None:
        raise UserError(f"{LEDGER_FILE} is the ledger of session {owner}; nothing to import")
    if git.is_tracked(files.repo, LEDGER_FILE):
        raise UserError(
            f"{LEDGER_FILE} is tracked by git; import a copy of it from outside the repository"
        )
    aside = Path(files.imported_copy(LEDGER_FILE))
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, aside)
    return aside


def _put_back(aside: Path, source: Path) -> None:
    os.replace(aside, source)
    for folder in (aside.parent, aside.parent.parent):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: it was made for the file just moved back


def adopt(
    repo: str,
    source: Path,
    ledger: Ledger,
    flags: Mapping[str, Any],
    file_values: Mapping[str, Any],
    settings_file: str | None,
) -> Adoption:
    """Start the session and append the source's rows; refuses before any change."""
    if not ledger.rows:
        raise UserError(f"{source}: no readable experiment rows to import")
    values, guessed = session_values(ledger, flags, file_values)
    settings = build_settings(file_values, values, need_run=False)
    files = SessionFiles(repo, settings.tag)
    aside = _move_aside(source, files)
    try:
        session = Session.start(repo, settings, settings_file)
    except BaseException:
        if aside is not None:
            _put_back(aside, source)
        raise
    copy = aside or Path(files.imported_copy(source.name))
    if aside is None:
        shutil.copyfile(source, copy)
    skipped = list(ledger.problems)
    columns = read_header(files.ledger)
    dropped = [name for name in ledger.columns if name not in columns and name not in _STRUCTURE]
    lines = []
    last_keep = None
    for row in ledger.rows:
        line = _imported_line(row, settings.metric, columns)
        if line is None:
            skipped.append(f"line {row.line}: {settings.metric} is not a number")
            continue
        lines.append(line)
        if row.status == verdict.KEEP:
            last_keep = row
    append_lines(files.ledger, lines)  # one flush for the whole history, not one per row
    adoption = Adoption(session, source, copy, len(lines), guessed, dropped, skipped, last_keep)
    record_import(session, adoption, tuple(lines))
    return adoption


def record_import(session: Session, adoption: Adoption, rows: tuple[str, ...]) -> None:
    """Where the history came from, in the session's frozen state; the ``rows`` appended, in
    the record."""
    last = adoption.last_keep
    imported = {
        "source": str(adoption.source),
        "copy": str(adoption.copy.relative_to(session.repo)),
        "rows": adoption.rows,
        "keep_ref": session.keep_ref(),
        "last_keep": None if last is None else {"commit": last.commit, "value": last.value},
    }
    session.save(session.meta._replace(imported=imported), "import", journal.Written(rows))
