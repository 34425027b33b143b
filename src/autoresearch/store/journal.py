"""The session's record: an append-only history in git objects, of which the files are views.

Every entry is a commit on ``refs/autoresearch/TAG/journal``, one per event (the start, each
experiment, a rewind, an import). Its message carries, as one line of JSON, what the tool wrote
to ``results.tsv`` and ``runs.jsonl`` for the event (the exact text; never what the files merely
gained, since anyone can append to them), the keep ref after it, and the size and
BLAKE2b hash of each file once it was done; its tree holds ``session.json`` as it then was.

A chain of commits rather than notes: notes hang off other objects and are rewritten in place,
while a commit chain is append-only by construction, moved by compare-and-swap, kept by `git gc`,
readable with `git log`, and one entry costs two git processes (``commit-tree``, ``update-ref``).

Checking the files against the record reads git once (the tip and the keep ref, in one
``cat-file``) and hashes the files; the whole history is read only to rebuild or to say which row
differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from autoresearch.store import git, git_process

try:  # the built-in BLAKE2 loads in a fraction of a millisecond, OpenSSL's hashlib in ~10 ms
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

if TYPE_CHECKING:
    from _typeshed import StrPath

SESSION_FILE = "session.json"
# The record is the tool's, not the user's: its commits carry the tool's name.
_IDENTITY = (
    "-c",
    "user.name=autoresearch",
    "-c",
    "user.email=autoresearch@localhost",
    "-c",
    "commit.gpgsign=false",
)


def ref_name(tag: str) -> str:
    return f"refs/autoresearch/{tag}/journal"


class Views(NamedTuple):
    """The files the record stands behind."""

    ledger: str
    runs: str
    session: str


class Journal(NamedTuple):
    """A session's record: the repository that holds it, its tag, and the files it stands
    behind."""

    repo: str
    tag: str
    views: Views


class Digest(NamedTuple):
    size: int
    blake2b: str  # 256 bits

    @classmethod
    def of(cls, data: bytes) -> Digest:
        return cls(len(data), _hash(data).hexdigest())


def _hash(data: bytes) -> Any:
    return blake2b(data, digest_size=32)


class Tip(NamedTuple):
    """The record's last entry, and the keep ref as git has it now (None: missing)."""

    commit: str
    tree: str
    entry: Mapping[str, Any]
    keep_now: str | None

    @property
    def keep(self) -> str:
        return str(self.entry["keep"])

    @property
    def ledger(self) -> Digest:
        return Digest(*self.entry["ledger"])

    @property
    def runs(self) -> Digest:
        return Digest(*self.entry["runs"])

    @property
    def session(self) -> str:
        return str(self.entry["session"])

    @property
    def experiment(self) -> int | None:
        number = self.entry.get("experiment")
        return None if number is None else int(number)


def read_bytes(path: StrPath) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_tip(repo: StrPath, tag: str, keep_ref: str) -> tuple[Tip | None, str | None]:
    """The record's tip (None: the session has no record) and the keep ref, in one git call."""
    with start_reading_tip(repo, tag, keep_ref) as reading:
        return parse_tip(reading.output())


def start_reading_tip(repo: StrPath, tag: str, keep_ref: str) -> git.Pending:
    """``read_tip`` begun, so that the files are read meanwhile; ``parse_tip`` its output."""
    return git_process.start_batch(repo, [ref_name(tag), keep_ref])


def parse_tip(out: str) -> tuple[Tip | None, str | None]:
    journal_header, _, rest = out.partition("\n")
    tip: Tip | None = None
    if not journal_header.endswith(" missing"):
        commit, _, size = journal_header.split(" ")
        body, rest = rest[: int(size)], rest[int(size) + 1 :]
        headers, _, message = body.partition("\n\n")
        tree = headers.split("\n", 1)[0].removeprefix("tree ")
        tip = Tip(commit, tree, json.loads(message.partition("\n\n")[2]), None)
    keep_header = rest.partition("\n")[0]
    keep = None if keep_header.endswith(" missing") else keep_header.split(" ")[0]
    return (tip._replace(keep_now=keep) if tip else None), keep


class Written(NamedTuple):
    """What the tool itself appended to the files for one event; an entry holds these lines and
    no others, whatever else the files gained since the last one (an agent can append to them).

    ``rows``: the ledger lines, as written, without their newlines. ``runs``: by (experiment,
    commit), the values of the runs the tool made of it (None: still unknown, the experiment is
    in flight or was cut short by a kill); a line of ``runs.jsonl`` is the tool's when it names
    one of these and, where the values are known, holds the next of them.
    """

    rows: tuple[str, ...] = ()
    runs: Mapping[tuple[int, str], tuple[float, ...] | None] = MappingProxyType({})
    # False: the entry is made before the rows reach the ledger, so that whatever the ledger
    # holds of them after a kill, the record had first.
    rows_on_disk: bool = True


NOTHING = Written()


def append(
    record: Journal,
    tip: Tip | None,
    keep: str,
    fields: Mapping[str, Any],
    written: Written = NOTHING,
    settings_saved: bool = False,
) -> Entry:
    """Start writing the next entry; ``commit`` the returned ``Entry`` to move the ref.

    The entry adds to the record what the tool ``written``, never what the files gained: a line
    anyone else appended meanwhile is left out, and the next check names it. The record's first
    entry (``tip`` None) takes the files as they are. ``session.json`` is taken as it is only
    when the tool has just saved it (``settings_saved``).
    """
    repo, tag, views = record
    ledger = read_bytes(views.ledger) or b""
    runs = read_bytes(views.runs) or b""
    session = read_bytes(views.session) or b""
    if tip is None:
        added_ledger, added_runs = ledger, runs
    else:
        added_ledger = "".join(f"{row}\n" for row in written.rows).encode()
        added_runs = _own_runs(runs[tip.runs.size :], written.runs)
    if not written.rows_on_disk:
        ledger += added_ledger
    ledger_digest = _digest_after(ledger, tip.ledger if tip else None, added_ledger)
    runs_digest = _digest_after(runs, tip.runs if tip else None, added_runs)
    if ledger_digest is None or runs_digest is None:
        # The files are not the record plus what the tool wrote (an agent or the run changed
        # them): the entry extends the record, and the next check names what differs.
        rebuilt = rebuild(repo, tag)
        ledger_digest = Digest.of(rebuilt.ledger + added_ledger)
        runs_digest = Digest.of(rebuilt.runs + added_runs)
    session_digest = _hash(session).hexdigest()
    if tip is not None and (tip.session == session_digest or not settings_saved):
        tree, session_digest = tip.tree, tip.session
    else:
        tree = _session_tree(repo, session)
    entry = {
        **fields,
        "keep": keep,
        "ledger": list(ledger_digest),
        "runs": list(runs_digest),
        "session": session_digest,
        "ledger_added": added_ledger.decode("utf-8", "surrogateescape"),
        "runs_added": added_runs.decode("utf-8", "surrogateescape"),
    }
    title = " ".join(str(fields[key]) for key in ("kind", "experiment", "status") if key in fields)
    message = (
        f"autoresearch {tag}: {title}, keep ref {keep[:7]}\n\n{json.dumps(entry, sort_keys=True)}\n"
    )
    parents = ("-p", tip.commit) if tip else ()
    return Entry(repo, tag, tip, tree, parents, message)


def _own_runs(appended: bytes, own: Mapping[tuple[int, str], tuple[float, ...] | None]) -> bytes:
    """The lines of ``appended`` that are runs the tool made, in the order they were written:
    runs of several experiments in flight at once interleave."""
    kept: list[bytes] = []
    taken: set[tuple[int, str, int]] = set()
    for line in appended.splitlines(keepends=True):
        key = _run_key(line) if line.endswith(b"\n") else None
        if key is None or key[:2] not in own or key[:3] in taken:
            continue
        values, index = own[key[:2]], key[2]
        # By its own index: its first runs may be in an earlier entry, taken while it was in
        # flight beside the experiment that entry recorded.
        if index < 0 or (values is not None and (index >= len(values) or key[3] != values[index])):
            continue  # not a run the tool made of this experiment
        taken.add(key[:3])
        kept.append(line)
    return b"".join(kept)


def _run_key(line: bytes) -> tuple[int, str, int, float] | None:
    """A run line's experiment, commit, index and value; None when it is not one."""
    try:
        run = json.loads(line)
        return int(run["experiment"]), str(run["commit"]), int(run["run"]), float(run["value"])
    except (ValueError, TypeError, KeyError):
        return None


def _digest_after(data: bytes, recorded: Digest | None, added: bytes) -> Digest | None:
    """The digest of the record's file with ``added`` appended, when ``data`` is exactly that
    (hashed in one pass); None when it is not."""
    if recorded is None:
        return Digest.of(data)
    if len(data) != recorded.size + len(added) or not data.endswith(added):
        return None
    hashing = _hash(data[: recorded.size])
    if hashing.hexdigest() != recorded.blake2b:
        return None
    hashing.update(added)
    return Digest(len(data), hashing.hexdigest())


def extends(data: bytes, digest: Digest) -> bool:
    """Whether ``data`` is the recorded file, perhaps with more appended."""
    return len(data) >= digest.size and Digest.of(data[: digest.size]) == digest


class Entry(git.Pending):
    """An entry's commit being made; ``commit()`` waits for it and moves the ref to it."""

    __slots__ = ("_entry", "_old", "_ref", "_tree")

    def __init__(
        self,
        repo: StrPath,
        tag: str,
        tip: Tip | None,
        tree: str,
        parents: tuple[str, ...],
        message: str,
    ) -> None:
        self._ref = ref_name(tag)
        self._old = tip.commit if tip else ""  # "": the ref must not exist yet
        self._tree = tree
        self._entry = json.loads(message.partition("\n\n")[2])
        super().__init__(repo, (*_IDENTITY, "commit-tree", tree, *parents, "-F", "-"), message)

    def commit(self) -> Tip:
        """Move the record's ref to the entry; returns the new tip."""
        new = self.output().strip()
        # Compare-and-swap: an entry written meanwhile by anyone else makes this fail.
        git.git(self._repo, "update-ref", "-m", "autoresearch record", self._ref, new, self._old)
        return Tip(new, self._tree, self._entry, str(self._entry["keep"]))


def _session_tree(repo: StrPath, session: bytes) -> str:
    blob = git.git(repo, "hash-object", "-w", "--stdin", stdin=session.decode("utf-8")).strip()
    return git.git(repo, "mktree", stdin=f"100644 blob {blob}\t{SESSION_FILE}\n").strip()


def history(repo: StrPath, tag: str) -> list[dict[str, Any]]:
    """Every entry, oldest first, in one git call."""
    return [entry for _, entry in identified_history(repo, tag)]


def identified_history(repo: StrPath, tag: str) -> list[tuple[str, dict[str, Any]]]:
    """Every entry with its commit's id, oldest first, in one git call."""
    out = git.git(repo, "log", "-z", "--reverse", "--format=%H%n%B", ref_name(tag))
    entries = []
    for message in out.split("\0"):
        commit, _, text = message.strip("\n").partition("\n")
        body = text.partition("\n\n")[2].strip()
        if body:
            entries.append((commit, json.loads(body)))
    return entries


class Recorded(NamedTuple):
    """The files as the record has them."""

    ledger: bytes
    runs: bytes
    session: bytes
    keep: str


def rebuild(repo: StrPath, tag: str) -> Recorded:
    entries = history(repo, tag)
    ledger = "".join(e.get("ledger_added", "") for e in entries)
    runs = "".join(e.get("runs_added", "") for e in entries)
    session = git.git(repo, "cat-file", "blob", f"{ref_name(tag)}:{SESSION_FILE}")
    return Recorded(
        ledger.encode("utf-8", "surrogateescape"),
        runs.encode("utf-8", "surrogateescape"),
        session.encode("utf-8", "surrogateescape"),
        str(entries[-1]["keep"]),
    )


def replace_file(path: StrPath, data: bytes) -> None:
    """Write ``data`` as the whole file, atomically and durably."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{os.fspath(path)}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
