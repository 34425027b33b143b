"""Which files an experiment may change: globs, a frozen list of tracked files, protected files."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from autoresearch.errors import UserError


def matches(path: str, patterns: Iterable[str]) -> bool:
    """A glob matches the path itself or, when it names a folder, everything under it."""
    for pattern in patterns:
        bare = pattern.strip("/")
        if fnmatch.fnmatchcase(path, bare) or path.startswith(bare + "/"):
            return True
    return False


class Scope(NamedTuple):
    """The files an experiment may change: explicit globs, or a frozen list of tracked files.

    ``reserved`` are the tool's own files, never part of an experiment whatever the globs say.
    """

    include: tuple[str, ...]
    protect: tuple[str, ...]
    files: frozenset[str] = frozenset()
    reserved: tuple[str, ...] = ()

    def allows(self, path: str) -> bool:
        if matches(path, self.reserved) or matches(path, self.protect):
            return False
        return path in self.files or matches(path, self.include)

    def explain(self, path: str) -> str:
        return "protected" if matches(path, self.protect) else "outside scope"


def refuse_forbidden(paths: Sequence[str], scope: Scope) -> None:
    """A one-line refusal naming every path the scope does not allow, if there is any."""
    forbidden = sorted({p for p in paths if not scope.allows(p)})
    if not forbidden:
        return
    protected = [p for p in forbidden if scope.explain(p) == "protected"]
    outside = [p for p in forbidden if p not in protected]
    parts = []
    if protected:
        parts.append(f"changes protected file(s): {', '.join(protected)}")
    if outside:
        parts.append(f"changes file(s) outside scope: {', '.join(outside)}")
    raise UserError("refused: the candidate " + "; ".join(parts))


# A glob's wildcards, each replaced by something it matches, to name a file it would cover.
_WILDCARD = re.compile(r"\*+|\?|\[!?[^\]]*\]")


def _one_match(wildcard: str) -> str:
    if wildcard.startswith("*"):
        return "new"
    if wildcard == "?":
        return "x"
    negated = wildcard.startswith("[!")
    members = wildcard[2:-1] if negated else wildcard[1:-1]
    return "_" if negated or not members else members[0]


def creatable_path(pattern: str) -> str | None:
    """A file the glob would cover that an agent could create (``src/*.py``: ``src/new.py``);
    None when no such name comes out of it."""
    bare = pattern.strip("/")
    path = _WILDCARD.sub(lambda found: _one_match(found.group()), bare)
    return path if path and fnmatch.fnmatchcase(path, bare) else None


def first_editable(scope: Scope, existing: Iterable[str]) -> str | None:
    """A file an experiment may change: one of ``existing`` the scope allows, else one a scope
    glob names that could be created; None when the scope leaves nothing to edit."""
    for path in existing:
        if scope.allows(path):
            return path
    for pattern in scope.include:
        path = creatable_path(pattern)
        if path is not None and scope.allows(path):
            return path
    return None
