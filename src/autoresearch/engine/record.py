"""The files checked against the session's record before a command acts.

``results.tsv``, ``runs.jsonl``, ``session.json`` and the keep ref are views of the record in git
(``store/journal``). An agent can edit any file and move any ref; what it changed is found here,
named in one line, and refused until ``autoresearch repair`` puts the record back. The check
reads git once and hashes the files; only when something differs is the whole record read, to
say what.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from autoresearch.engine.session import Session, SessionMeta
from autoresearch.errors import UserError
from autoresearch.rules.settings import Settings
from autoresearch.store import git, journal
from autoresearch.store.files import LEDGER_FILE, lock_holder, read_json
from autoresearch.store.ledger import Ledger, parse_lines

REPAIR_HINT = "`autoresearch repair` puts the record back"
STARTED_NOTE = (
    "this session had no record in git (it began before autoresearch kept one): "
    "its record starts now, from the files as they are"
)


class RecordChanged(UserError):
    """A file or the keep ref differs from the session's record: refused, nothing changed."""


InFlight = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


def problems(session: Session, inflight: InFlight) -> list[str]:
    """What differs from the record, one phrase each (empty: all agree).

    ``inflight``: an experiment under way or interrupted may have appended its runs and its row,
    and moved the keep ref to its commit, before its entry was written.
    """
    with session.start_reading_record() as reading:  # git answers while the files are read
        session_json = journal.read_bytes(session.files.session_json) or b""
        ledger_bytes = journal.read_bytes(session.files.ledger)
        runs = journal.read_bytes(session.files.runs_jsonl) or b""
        tip, keep = session.parse_record(reading.output())
    if tip is None:
        if session.meta.recorded and not _nothing_yet(session):
            return [f"the session's record {journal.ref_name(session.tag)} is missing"]
        return []  # begun by an earlier version, or killed before its first entry
    found: list[str] = []
    growing = inflight is not None
    # One experiment in flight, or several (a parallel loop); {}: a command between its writes.
    records = [inflight] if isinstance(inflight, Mapping) else list(inflight or ())
    known, unknown = vouched(session, [r for r in records if r])
    found += [_not_in_flight(r) for r in unknown]
    growing = growing and (bool(known) or not unknown)  # only the tool's own may grow them
    stored: journal.Recorded | None = None

    def recorded() -> journal.Recorded:
        nonlocal stored
        stored = stored or journal.rebuild(session.repo, session.tag)
        return stored

    if journal.Digest.of(session_json).blake2b != tip.session:
        found.append(_settings_change(session_json, recorded().session))
    if ledger_bytes is None:
        found.append(f"{LEDGER_FILE} is missing")
    elif not _agrees(ledger_bytes, tip.ledger, growing) and not due_row(ledger_bytes, tip, known):
        found.append(_row_change(LEDGER_FILE, ledger_bytes, recorded().ledger, header=True))
    if not _agrees(runs, tip.runs, growing):
        found.append(_row_change("runs.jsonl", runs, recorded().runs, header=False))
    # Killed between an experiment's entry and the keep ref's move, the ref is still where
    # that experiment began.
    allowed = {tip.keep} | {str(begun["keep"]) for begun in known.values()}
    if keep is None:
        found.append("the keep ref was deleted outside autoresearch")
    elif keep not in allowed:
        found.append(
            f"the keep ref was moved outside autoresearch: to {keep[:7]} "
            f"(the record has {tip.keep[:7]})"
        )
    return found


def vouched(
    session: Session, records: Sequence[Mapping[str, Any]]
) -> tuple[dict[int, Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Of what in-flight files hold, by experiment number the record's begin entry of each one
    the record has in flight, and the others.

    A file is the tool's when it names the begin entry the tool added to the record before
    writing it, for the same experiment and commit, and that experiment has no entry after it
    but, at most, the record's last (a kill after the entry, before the file went). Anyone can
    write a file; an entry can be forged only by rewriting the record, which its check names.
    """
    if not records:
        return {}, []
    try:
        entries = journal.identified_history(session.repo, session.tag)
    except git.GitError:  # no record: nothing is in flight by it
        entries = []
    at = {commit: index for index, (commit, _) in enumerate(entries)}
    known: dict[int, Mapping[str, Any]] = {}
    unknown: list[Mapping[str, Any]] = []
    for inflight in records:
        index = at.get(str(inflight.get("entry")), -1)
        begun = entries[index][1] if index >= 0 else {}
        number = begun.get("experiment")
        finished_before_last = any(
            entry.get("kind") == "experiment" and entry.get("experiment") == number
            for _, entry in entries[index + 1 : -1]
        )
        if (
            begun.get("kind") == "begin"
            and number == inflight.get("experiment")
            and begun.get("commit") == inflight.get("commit")
            and not finished_before_last
        ):
            known[int(number)] = begun
        else:
            unknown.append(inflight)
    return known, unknown


def _not_in_flight(inflight: Mapping[str, Any]) -> str:
    commit = str(inflight.get("commit") or "")[:7]
    return (
        f"an in-flight file names experiment {inflight.get('experiment')} ({commit}), which "
        "the session's record does not have in flight"
    )


def check(session: Session, inflight: InFlight = None) -> None:
    """Refuse, naming what changed, when the files or the keep ref differ from the record."""
    found = problems(session, inflight)
    if found:
        raise RecordChanged(f"{'; '.join(found)}: {REPAIR_HINT}")


def check_unlocked(session: Session) -> None:
    """For commands that only read: an experiment may be under way beside them."""
    check(session, _inflight_if_running(session))


def report(session: Session) -> list[str]:
    """For `status`, which only reads: what differs, or that the record has not begun."""
    if session.meta.recorded or session.read_record()[0] is not None:
        found = problems(session, _inflight_if_running(session))
        return [f"{problem}: {REPAIR_HINT}" for problem in found]
    return [
        "no record in git yet (the session began before autoresearch kept one): "
        "the next command starts it from the files as they are"
    ]


class View(NamedTuple):
    """The session as its record has it, whatever the files say."""

    ledger: Ledger
    keep: str
    settings: Settings


def recorded_view(session: Session) -> View:
    """What `status` shows when the files differ: the record's numbers, not the changed ones."""
    stored = journal.rebuild(session.repo, session.tag)
    text = stored.ledger.decode("utf-8", "replace").splitlines(keepends=True)
    meta = SessionMeta.from_json(json.loads(stored.session))
    return View(parse_lines(text, session.files.ledger), stored.keep, meta.settings)


def check_locked(session: Session, inflight: InFlight) -> list[str]:
    """Before a command acts, holding the lock: refuse on a difference; start the record of a
    session that began before there was one. Returns what to tell the user."""
    check(session, inflight)
    if session.record is not None:
        return []
    if session.meta.recorded:  # `init` was killed before the record's first entry
        session.write_record({"kind": "start"}, settings_saved=True)
        return []
    session.save(session.meta._replace(recorded=True), "start")
    return [STARTED_NOTE]


class Outcome(NamedTuple):
    """An experiment as the tool recorded it: its number and verdict, the keep ref after it,
    and what it wrote to the files (its row, its runs)."""

    number: int
    status: str
    keep: str
    written: journal.Written


def has_entry(session: Session, number: int) -> bool:
    """Whether the record's last entry is experiment ``number`` (a command killed after writing
    it leaves nothing for the next one to add)."""
    tip = session.record
    return tip is not None and tip.experiment == number and tip.entry.get("kind") == "experiment"


def start_experiment(session: Session, outcome: Outcome) -> journal.Entry | None:
    """Begin the experiment's entry once its row is on disk, while the keep ref is settled;
    None when the record has it already. ``session.finish_record`` ends it."""
    if has_entry(session, outcome.number):
        return None
    fields = {"kind": "experiment", "experiment": outcome.number, "status": outcome.status}
    return session.start_record(fields, outcome.keep, outcome.written)


def note_experiment(session: Session, outcome: Outcome) -> None:
    entry = start_experiment(session, outcome)
    if entry is not None:
        session.finish_record(entry)


def require_measured(session: Session, commits: Sequence[str]) -> None:
    """Refuse a keep whose runs the record does not hold (``commits``: full hashes): a row, a
    keep ref and even an entry to match can be forged by hand; runs of the commit that an entry
    of the record judged a keep cannot, short of forging those too. Runs the record began with
    (a session older than it) count as measured."""
    entries = journal.history(session.repo, session.tag)
    kept = {
        e.get("experiment")
        for e in entries
        if e.get("kind") == "experiment" and e.get("status") == "keep"
    }
    measured: set[str] = set()
    for entry in entries:
        for line in str(entry.get("runs_added", "")).splitlines():
            with contextlib.suppress(ValueError, TypeError, KeyError):
                run = json.loads(line)
                if entry.get("kind") == "start" or run["experiment"] in kept:
                    measured.add(str(run["commit"]))
    for commit in commits:
        if commit not in measured:
            raise UserError(
                f"the keep {commit[:7]} has no runs in the session's record of a kept "
                "experiment: it was never measured as a keep; nothing changed"
            )


def _nothing_yet(session: Session) -> bool:
    """No experiment recorded in the files: at most the ledger's header, no runs."""
    text = journal.read_bytes(session.files.ledger) or b""
    runs = journal.read_bytes(session.files.runs_jsonl) or b""
    return text.count(b"\n") <= 1 and not runs.strip()


def _inflight_if_running(session: Session) -> InFlight:
    """What the in-flight files hold (a parallel loop's too); {} while a command holds the lock
    without one; None when nothing is under way."""
    folder = session.files.inflight_dir
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    paths = [session.files.inflight_json, *(os.path.join(folder, name) for name in names)]
    found = [inflight for inflight in map(read_json, paths) if inflight is not None]
    if not found and lock_holder(session.files) is not None:
        return {}  # a command is between writing and recording: appended text is expected
    return found or None


def last_entry_in_flight(tip: journal.Tip, known: Mapping[int, Any]) -> bool:
    """Whether the record's last entry is the verdict of an experiment still in flight (a kill
    came after it, before its row, the keep ref's move or the in-flight file's removal)."""
    return tip.entry.get("kind") == "experiment" and tip.experiment in known


def due_row(ledger: bytes, tip: journal.Tip, known: Mapping[int, Any]) -> str | None:
    """The row of the record's last entry when ``ledger`` lacks only that row, an experiment
    still in flight: a kill came between its entry and its row, which the next command writes."""
    if not last_entry_in_flight(tip, known):
        return None
    row = str(tip.entry.get("ledger_added", ""))
    added = row.encode("utf-8", "surrogateescape")
    return row if row and journal.Digest.of(ledger + added) == tip.ledger else None


def _agrees(data: bytes, digest: journal.Digest, growing: bool) -> bool:
    if growing:
        return journal.extends(data, digest)
    return journal.Digest.of(data) == digest


def _row_change(name: str, data: bytes, recorded: bytes, header: bool) -> str:
    """Which line of a file differs first from the record, in words."""
    now = data.decode("utf-8", "replace").splitlines()
    then = recorded.decode("utf-8", "replace").splitlines()
    for index, (line, kept) in enumerate(zip(now, then, strict=False)):
        if line != kept:
            return f"{name} {_line_name(index, header)} differs from the session's record"
    if len(now) < len(then):
        more = len(then) - len(now) - 1
        also = f" and {more} more" if more else ""
        return f"{name} lacks {_line_name(len(now), header)}{also} of the session's record"
    if len(now) > len(then):
        return f"{name} {_line_name(len(then), header)} is not in the session's record"
    return f"{name} differs from the session's record"


def _line_name(index: int, header: bool) -> str:
    if not header:
        return f"line {index + 1}"
    if index == 0:
        return "the header"
    return f"row {index - 1} (line {index + 1})"


def _settings_change(now: bytes, then: bytes) -> str:
    """session.json against the record, naming the settings that differ."""
    try:
        changed = _differing_keys(json.loads(now), json.loads(then))
    except (json.JSONDecodeError, UnicodeDecodeError):
        changed = []
    if not now:
        return "session.json is missing"
    shown = f" ({', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''})" if changed else ""
    return f"session.json differs from the session's record{shown}"


def _differing_keys(now: Any, then: Any, prefix: str = "") -> list[str]:
    if isinstance(now, dict) and isinstance(then, dict):
        keys = sorted(set(now) | set(then))
        return [
            name
            for key in keys
            for name in _differing_keys(now.get(key), then.get(key), f"{prefix}{key}.")
        ]
    if now == then:
        return []
    name = prefix.rstrip(".")
    if _short(now) and _short(then):
        return [f"{name}: {json.dumps(then)} -> {json.dumps(now)}"]
    return [name]


def _short(value: Any) -> bool:
    return len(json.dumps(value)) <= 24
