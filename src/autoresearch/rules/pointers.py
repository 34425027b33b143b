"""What a candidate's files point the run at, beyond their own bytes.

A candidate is measured by running the files on disk (or a checkout of its commit) and kept as
the commit. Git can make the two differ: a symbolic link reads a file the commit does not hold
(one outside the repository, which can change later), a gitlink or submodule brings in another
repository's code, a ``.gitattributes`` filter rewrites files on checkout, and an index flag
(skip-worktree, assume-unchanged) makes git look away from an edit that the run still sees. Each
is refused here, as a change outside scope is, with a reason. Pure: the caller reads the tree.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import NamedTuple

from autoresearch.errors import UserError
from autoresearch.rules.scope import Scope, matches

# An attribute that names a driver: a program git runs on the file (a filter's clean and smudge,
# a textconv or external diff, a merge driver), set up under that name in the configuration.
_DRIVER = re.compile(r"^(?:filter|diff|merge)=\S")
SUBMODULES_FILE = ".gitmodules"
ATTRIBUTES_FILE = ".gitattributes"


class Link(NamedTuple):
    """A symbolic link of the candidate: where it is, and its target as written."""

    path: str
    target: str


def link_problem(link: Link, scope: Scope, held: Container[str]) -> str | None:
    """Why the run must not follow ``link``, or None. ``held``: the paths the candidate's commit
    holds (its files and their folders), which a checkout of it has too."""
    if posixpath.isabs(link.target):
        return "leaves the repository"  # in a clean checkout it names the user's tree, too
    aim = posixpath.normpath(posixpath.join(posixpath.dirname(link.path), link.target))
    if aim == ".." or aim.startswith("../"):
        return "leaves the repository"
    if aim == ".git" or aim.startswith(".git/"):
        return "points into .git"
    if matches(aim, scope.protect) or matches(aim, scope.reserved):
        return "points at a protected file"
    if any(matches(protected, [aim]) for protected in scope.protect if aim != "."):
        return "points at a folder of protected files"
    if aim != "." and aim not in held:
        return "points at a file its commit does not hold"
    return None


def driver_lines(text: str) -> set[str]:
    """The lines of a ``.gitattributes`` that give some files a filter, diff or merge driver
    (macro definitions included)."""
    found = set()
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and any(map(_DRIVER.match, line.split())):
            found.add(stripped)
    return found


def added_drivers(old: str, new: str) -> list[str]:
    """The driver lines of the new ``.gitattributes`` that the old one did not have."""
    return sorted(driver_lines(new) - driver_lines(old))


def is_attributes_file(path: str) -> bool:
    return posixpath.basename(path) == ATTRIBUTES_FILE


class Pointers(NamedTuple):
    """What the candidate's paths are, besides files: read by the caller from git and disk."""

    links: tuple[Link, ...] = ()
    gitlinks: tuple[str, ...] = ()
    under_links: tuple[tuple[str, str], ...] = ()  # (path, the linked folder it lies under)
    drivers: tuple[tuple[str, str], ...] = ()  # (.gitattributes path, a line it adds)
    flagged: Mapping[str, str] = {}  # path on disk -> the index flag git keeps on it


def problems(
    pointers: Pointers, paths: Iterable[str], scope: Scope, held: Container[str]
) -> list[str]:
    """Each reason the candidate's ``paths`` point the run at what its commit does not hold."""
    found = []
    links: dict[str, list[str]] = {}
    for link in pointers.links:
        reason = link_problem(link, scope, held)
        if reason is not None:
            links.setdefault(reason, []).append(f"{link.path} -> {link.target}")
    found += [f"has a symbolic link that {why}: {', '.join(it)}" for why, it in links.items()]
    if pointers.under_links:
        under = ", ".join(f"{path} (under {folder})" for path, folder in pointers.under_links)
        found.append(f"changes a path under a symbolic link: {under}")
    if pointers.gitlinks:
        found.append(f"adds a submodule (gitlink): {', '.join(pointers.gitlinks)}")
    if SUBMODULES_FILE in paths:
        found.append(f"changes {SUBMODULES_FILE} (submodules)")
    if pointers.drivers:
        lines = ", ".join(f"{path}: {line!r}" for path, line in pointers.drivers)
        found.append(f"adds a filter, diff or merge driver in {lines}")
    if pointers.flagged:
        found.append(_flags_problem(pointers.flagged))
    return found


def _flags_problem(flagged: Mapping[str, str]) -> str:
    named = ", ".join(f"{path} ({flag})" for path, flag in sorted(flagged.items()))
    return (
        f"keeps file(s) the run sees hidden from git by an index flag: {named}; "
        "`git update-index --no-skip-worktree --no-assume-unchanged -- PATH` clears it"
    )


def refuse(found: Sequence[str]) -> None:
    """The one-line refusal of a change outside scope, with these reasons, if there is any."""
    if found:
        raise UserError("refused: the candidate " + "; ".join(found))
