"""What a run in place may see of the files no commit holds (untracked ones, ignored ones too):
only those the session's runs left as they were.

A file made or changed between runs (by the agent, by the user) is hidden from every later run
in place, until it is gone or a commit holds it: the run finds an empty file of its own there,
and what it writes to it replaces the file afterwards, as in place (it is then the run's). So
an agent cannot point a run at code or data that no commit holds (a helper module outside
scope, a file in scope that an ignore rule keeps out of every commit), and an input changed
halfway through a session cannot favour the runs after it.
A run's own outputs stay: a file whose last change falls within a run is the run's. Tracked
files whose bytes on disk a text conversion left different from their checkout's (see
``store.converted``) are shown to the run as the checkout has them, by the same means.

Which files changed is read from their status-change time (ctime), which no program can set
back, against when the session's last run in place ended, kept in a state file beside the
session's other state. Not seen: files deep inside a folder git reports as ignored as a whole (a
``.venv``, a data folder), which git does not list.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import NamedTuple

from autoresearch.rules.formatting import first_of
from autoresearch.store.files import write_json
from autoresearch.store.git_process import Pending, start

# More stand-ins than this would mean a mount each for a folder of new files: refused instead.
MOST_HIDDEN = 1000
_COMPARED_BYTES = 1 << 20


class Seen(NamedTuple):
    """What the session remembers of its last run in place: when it ended (when it began, if
    it was cut short), the untracked files hidden from it, the tracked files shown to it as
    their checkout has them."""

    boundary: float
    hidden: frozenset[str] = frozenset()
    converted: frozenset[str] = frozenset()


def last_run(state_path: str) -> Seen | None:
    """The session's last run in place; None before its first."""
    state = _state(state_path)
    if state is None:
        return None
    boundary = 0.0  # unreadable (cut short, forged): every file counts as changed
    for key in ("until", "since"):
        value = state.get(key)
        if isinstance(value, (int, float)):
            boundary = float(value)
            break
    return Seen(boundary, _paths(state.get("hidden")), _paths(state.get("converted")))


def _state(state_path: str) -> dict[str, object] | None:
    """The state file as written; empty when it cannot be read; None when there is none."""
    try:
        with open(state_path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _paths(kept: object) -> frozenset[str]:
    return frozenset(str(path) for path in kept) if isinstance(kept, list) else frozenset()


def start_listing(repo: str) -> Pending:
    """The files of the tree no commit holds: untracked and ignored, one by one, but for what
    lies in a folder ignored as a whole (git does not walk it); read with ``listed``."""
    return start(
        repo,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignored=matching",
        "--no-renames",
    )


def listed(started: Pending, ignored: bool = True) -> list[str]:
    """The paths ``start_listing`` found (``ignored``: those git ignores too); a folder git did
    not walk ends with a slash."""
    codes = ("??", "!!") if ignored else ("??",)
    entries = (entry for entry in started.output().split("\0") if len(entry) > 3)
    return [entry[3:] for entry in entries if entry[:2] in codes]


def ignored_folders(repo: str) -> list[str]:
    """The folders git ignores as a whole (a ``.venv``, a data folder, a cache), relative."""
    return [path.rstrip("/") for path in listed(start_listing(repo)) if path.endswith("/")]


def changed_between_runs(
    repo: str, seen: Seen, exclude: Iterable[str], listing: Pending, ignored: bool = True
) -> tuple[str, ...]:
    """The untracked files made or changed since the session's last run in place ended, and
    those hidden before that are still there (``listing``: begun by ``start_listing``;
    ``ignored``: the ignored ones too). A folder git does not walk (ignored as a whole) counts
    by its own change: one made since, or one whose entries were added, removed or renamed."""
    skipped = tuple(path.strip("/") for path in exclude)
    within = tuple(f"{path}/" for path in skipped)
    found = []
    for path in listed(listing, ignored):
        if path.rstrip("/") in skipped or path.startswith(within):
            continue
        with contextlib.suppress(OSError):
            if path in seen.hidden or os.lstat(os.path.join(repo, path)).st_ctime > seen.boundary:
                found.append(path)
    return tuple(sorted(found))


def refusal(repo: str, hidden: Collection[str], converted: Collection[str], sandboxed: bool) -> str:
    """Why a run in place cannot go, or "": what it must not see cannot be kept from it."""
    if hidden:
        links = sorted(p for p in hidden if os.path.islink(os.path.join(repo, p)))
        named = first_of(sorted(hidden))
        reason = ""
        if links:
            reason = f"a symbolic link no commit holds was made or changed: {first_of(links)}"
        elif not sandboxed:
            reason = f"without the sandbox they cannot be hidden from it: {named}"
        elif len(hidden) > MOST_HIDDEN:
            reason = f"{len(hidden)} of them, too many to hide: {named}"
        if reason:
            return (
                "untracked files made or changed since the session's last run would be read by "
                f"this run in place, and no commit holds them; {reason} (remove them, or run in "
                "a clean checkout: --in-worktree)"
            )
    if converted and not sandboxed:
        return (
            "tracked files whose bytes on disk are not what a checkout of the commit writes (a "
            f"text conversion: eol, text, ident, working-tree-encoding) would be read by this run "
            f"in place: {first_of(sorted(converted))} (write them out again: `rm FILE && git "
            "checkout -- FILE`, or run in a clean checkout: --in-worktree)"
        )
    return ""


class StandIn(NamedTuple):
    """A file of the tool's bound over ``covers`` for one run, and how it was made."""

    file: str
    covers: str
    content: bytes
    made_ns: int


@contextlib.contextmanager
def stand_ins(repo: str, folder: str, contents: Mapping[str, bytes]) -> Iterator[list[StandIn]]:
    """A file in ``folder`` for each path (relative) of ``contents``, holding its bytes; those
    left are removed when the block ends (see ``write_back``)."""
    os.makedirs(folder, exist_ok=True)
    made = []
    try:
        for number, (path, content) in enumerate(sorted(contents.items())):
            stand_in = os.path.join(folder, str(number))
            with open(stand_in, "wb") as file:
                file.write(content)
            made.append(StandIn(stand_in, os.path.join(repo, path), content, _mtime(stand_in)))
        yield made
    finally:
        for stand_in in made:
            with contextlib.suppress(OSError):
                os.remove(stand_in.file)


def write_back(made: Iterable[StandIn]) -> list[str]:
    """Put what the run wrote to a stand-in where it stood in, as a run in place writes its
    files; the paths (absolute) it wrote."""
    written = []
    for stand_in in made:
        try:
            if not _was_written(stand_in):
                continue
            os.replace(stand_in.file, stand_in.covers)
        except OSError:
            continue  # another file system, or gone: what the run wrote is dropped
        written.append(stand_in.covers)
    return written


def _was_written(stand_in: StandIn) -> bool:
    found = os.stat(stand_in.file)
    if found.st_mtime_ns != stand_in.made_ns or found.st_size != len(stand_in.content):
        return True
    # Written within the clock's tick, to the same size: told by its bytes, when that is cheap.
    if found.st_size > _COMPARED_BYTES:
        return False
    with open(stand_in.file, "rb") as file:
        return file.read() != stand_in.content


def _mtime(path: str) -> int:
    return os.stat(path).st_mtime_ns


def run_begins(state_path: str, hidden: Collection[str], converted: Collection[str]) -> None:
    """Noted before a run in place starts: a kill during it leaves when it began."""
    _write(state_path, "since", hidden, converted)


def run_ended(state_path: str, hidden: Collection[str], converted: Collection[str]) -> None:
    """Noted once a run in place has ended: what changes after this is not a run's doing."""
    _write(state_path, "until", hidden, converted)


def end_cut_short(state_path: str) -> None:
    """A run cut short by a kill of the tool ends when the next command finds it: what it
    wrote until then is its own, as a run's outputs are."""
    state = _state(state_path)
    if state and "since" in state and "until" not in state:
        run_ended(state_path, _paths(state.get("hidden")), _paths(state.get("converted")))


def _write(
    state_path: str, moment: str, hidden: Collection[str], converted: Collection[str]
) -> None:
    # Not fsynced: it only matters while the machine stays up, as the in-flight file.
    state = {moment: time.time(), "hidden": sorted(hidden), "converted": sorted(converted)}
    write_json(state_path, state, durable=False)
