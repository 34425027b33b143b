"""What a run in place may see of the files no commit holds (untracked ones, ignored ones too):
only those the session's runs left as they were.

A file made or changed between runs (by the agent, by the user) is hidden from every later run
in place, until it is gone or a commit holds it: the run finds an empty file of its own there,
and what it writes to it is dropped. So an agent cannot point a run at code or data that no
commit holds (a helper module outside scope, a file in scope that an ignore rule keeps out of
every commit), and an input changed halfway through a session cannot favour the runs after it.
A run's own outputs stay: a file whose last change falls within a run is the run's.

Which files changed is read from their status-change time (ctime), which no program can set
back, against when the session's last run in place ended, kept in a state file beside the
session's other state. Not seen: files inside a folder git reports as ignored as a whole (a
``.venv``, a data folder), which git does not list.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from autoresearch.store.git_process import git

# More stand-ins than this would mean a mount each for a folder of new files: refused instead.
MOST_HIDDEN = 1000


class Hidden(NamedTuple):
    """What one run in place does not see: ``paths`` (relative) get an empty stand-in each;
    ``refusal`` says why the run cannot go at all (a link, too many files, no sandbox)."""

    paths: tuple[str, ...] = ()
    refusal: str = ""


def listed(repo: str) -> list[str]:
    """The files of the tree no commit holds: untracked and ignored, one by one, but for what
    lies in a folder ignored as a whole (git does not walk it)."""
    out = git(
        repo,
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignored=matching",
        "--no-renames",
    )
    entries = (entry for entry in out.split("\0") if len(entry) > 3)
    return [e[3:] for e in entries if e[:2] in ("??", "!!") and not e.endswith("/")]


def changed_between_runs(repo: str, state_path: str, exclude: Iterable[str]) -> tuple[str, ...]:
    """The untracked files made or changed since the session's last run in place ended, and
    those hidden before that are still there; nothing before the session's first run."""
    state = _read(state_path)
    if state is None:
        return ()
    boundary = _boundary(state)
    kept = state.get("hidden")
    before = {str(path) for path in kept} if isinstance(kept, list) else set()
    skipped = tuple(path.strip("/") for path in exclude)
    found = []
    for path in listed(repo):
        if path in skipped or path.startswith(tuple(f"{s}/" for s in skipped)):
            continue
        with contextlib.suppress(OSError):
            if path in before or os.lstat(os.path.join(repo, path)).st_ctime > boundary:
                found.append(path)
    return tuple(sorted(found))


def _boundary(state: dict[str, object]) -> float:
    """When the last run in place ended; a run cut short (the tool was killed) left no end,
    and what changed since it began is hidden."""
    for key in ("until", "since"):
        value = state.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0


def check(repo: str, paths: tuple[str, ...], sandboxed: bool) -> Hidden:
    """Whether ``paths`` can be hidden from a run; the refusal when they cannot."""
    if not paths:
        return Hidden()
    links = [p for p in paths if os.path.islink(os.path.join(repo, p))]
    reason = ""
    if links:
        reason = f"a symbolic link no commit holds was made or changed: {_named(links)}"
    elif not sandboxed:
        reason = f"without the sandbox they cannot be hidden from it: {_named(paths)}"
    elif len(paths) > MOST_HIDDEN:
        reason = f"{len(paths)} of them, too many to hide: {_named(paths)}"
    if not reason:
        return Hidden(paths)
    return Hidden(
        paths,
        "untracked files made or changed since the session's last run would be read by this "
        f"run in place, and no commit holds them; {reason} (remove them, or run in a clean "
        "checkout: --in-worktree)",
    )


def _named(paths: Iterable[str]) -> str:
    listed_paths = list(paths)
    shown = ", ".join(listed_paths[:5])
    return shown + (f" and {len(listed_paths) - 5} more" if len(listed_paths) > 5 else "")


@contextlib.contextmanager
def stand_ins(
    repo: str, folder: str, paths: tuple[str, ...]
) -> Iterator[tuple[tuple[str, str], ...]]:
    """An empty file in ``folder`` for each hidden path: (stand-in, the path it covers), both
    absolute; removed when the block ends."""
    os.makedirs(folder, exist_ok=True)
    made = []
    try:
        for number, path in enumerate(paths):
            stand_in = os.path.join(folder, str(number))
            open(stand_in, "wb").close()
            made.append((stand_in, os.path.join(repo, path)))
        yield tuple(made)
    finally:
        for stand_in, _ in made:
            with contextlib.suppress(OSError):
                os.remove(stand_in)


def run_begins(state_path: str, hidden: tuple[str, ...]) -> None:
    """Noted before a run in place starts: a kill during it leaves when it began."""
    _write(state_path, {"since": time.time(), "hidden": list(hidden)})


def end_cut_short(state_path: str) -> None:
    """A run cut short by a kill of the tool ends when the next command finds it: what it
    wrote until then is its own, as a run's outputs are."""
    state = _read(state_path)
    if state is not None and "since" in state and "until" not in state:
        kept = state.get("hidden")
        _write(state_path, {"until": time.time(), "hidden": kept if isinstance(kept, list) else []})


def run_ended(state_path: str, hidden: tuple[str, ...]) -> None:
    """Noted once a run in place has ended: what changes after this is not a run's doing."""
    _write(state_path, {"until": time.time(), "hidden": list(hidden)})


def _read(path: str) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            kept = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # Unreadable (cut short, forged): every untracked file counts as changed.
        return {"until": 0.0}
    return kept if isinstance(kept, dict) else {"until": 0.0}


def _write(path: str, state: dict[str, object]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.{os.getpid()}"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(state, handle)
    os.replace(partial, path)
