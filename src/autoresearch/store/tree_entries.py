"""What git and the disk say a candidate's paths are, besides their content: symbolic links and
their targets, gitlinks (a nested repository), linked folders above them, and the flags of the
index that make git look away from a file (skip-worktree, assume-unchanged)."""

from __future__ import annotations

import os
import posixpath
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.store.git_process import Pending, git, start

if TYPE_CHECKING:
    from _typeshed import StrPath

SYMLINK_MODE = "120000"
GITLINK_MODE = "160000"


class Entry(NamedTuple):
    """One path as the candidate's commit will hold it: ``kind`` is file, symlink, gitlink or
    absent (deleted); ``object`` names its blob in git (None: read it from disk)."""

    path: str
    kind: str
    object: str | None = None


class Index(NamedTuple):
    """The index's paths, and those a flag hides from git (path -> the flag)."""

    tracked: frozenset[str]
    flagged: dict[str, str]


def start_index(repo: StrPath) -> Pending:
    return start(repo, "ls-files", "-v", "-z")


def index(started: Pending) -> Index:
    """The index as ``start_index`` listed it."""
    tracked = set()
    flagged = {}
    for item in started.output().split("\0"):
        if len(item) < 3:
            continue
        tag, path = item[0], item[2:]
        tracked.add(path)
        # `ls-files -v` tags skip-worktree with S, and assume-unchanged by a lower-case tag.
        skip = ["skip-worktree"] if tag in "Ss" else []
        assume = ["assume-unchanged"] if tag.islower() else []
        if skip or assume:
            flagged[path] = ", ".join(skip + assume)
    return Index(frozenset(tracked), flagged)


def committed_entries(repo: StrPath, base: str, tip: str) -> list[Entry]:
    """Each path that differs between two commits, as ``tip`` holds it."""
    flags = ("--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff", "--no-textconv")
    out = git(repo, "diff", *flags, base, tip)
    fields = out.split("\0")
    entries = []
    for header, path in zip(fields[::2], fields[1::2], strict=False):
        _, new_mode, _, new_object, _ = header.lstrip(":").split(" ", 4)
        kind = {SYMLINK_MODE: "symlink", GITLINK_MODE: "gitlink", "000000": "absent"}
        entries.append(Entry(path, kind.get(new_mode, "file"), new_object))
    return entries


def worktree_entry(repo: StrPath, path: str) -> Entry:
    """A path as the working tree has it (what a commit of it will hold)."""
    full = os.path.join(repo, path.rstrip("/"))
    if os.path.islink(full):
        return Entry(path, "symlink")
    if os.path.isdir(full):
        # A folder git shows as one path is another repository; git would add it as a gitlink.
        nested = path.endswith("/") or os.path.lexists(os.path.join(full, ".git"))
        return Entry(path, "gitlink" if nested else "absent")
    return Entry(path, "file" if os.path.lexists(full) else "absent")


def linked_folder(repo: StrPath, path: str) -> str | None:
    """The folder above ``path`` that is a symbolic link on disk, if any: git sees no file
    beyond it, but the run reads whatever it points at."""
    folder = posixpath.dirname(path.rstrip("/"))
    above = []
    while folder:
        above.append(folder)
        folder = posixpath.dirname(folder)
    for candidate in reversed(above):
        if os.path.islink(os.path.join(repo, candidate)):
            return candidate
    return None


def link_target(repo: StrPath, entry: Entry) -> str:
    """A symbolic link's target as written (from disk, or its blob in git)."""
    if entry.object is None:
        return os.readlink(os.path.join(repo, entry.path))
    return blob_text(repo, entry.object)


def text(repo: StrPath, entry: Entry) -> str:
    """A small file's text as the commit will hold it; empty when it is not a file."""
    if entry.kind != "file":
        return ""
    if entry.object is not None:
        return blob_text(repo, entry.object)
    with open(os.path.join(repo, entry.path), encoding="utf-8", errors="replace") as handle:
        return handle.read()


def blob_text(repo: StrPath, name: str) -> str:
    """The blob ``name`` (an object, or ``commit:path``) as text; empty when there is none."""
    return git(repo, "cat-file", "blob", name, check=False)
