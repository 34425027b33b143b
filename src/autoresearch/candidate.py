"""What an experiment is: the files that differ from the keep ref, checked against the scope.

A candidate is the agent's uncommitted changes plus any commits it made on top of the keep ref.
Untracked files count only when they are in scope; anything else the user has lying around is
never touched.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from autoresearch import git
from autoresearch.errors import UserError
from autoresearch.records import Record
from autoresearch.state import LEDGER_FILE, RUN_LOG, STATE_DIR

TYPE_CHECKING = False  # typing is not imported at run time: see records.py
if TYPE_CHECKING:
    from _typeshed import StrPath

_NEVER_IN_SCOPE = (LEDGER_FILE, RUN_LOG, f"{STATE_DIR}/*")


def matches(path: str, patterns: Iterable[str]) -> bool:
    """A glob matches the path itself or, when it names a folder, everything under it."""
    for pattern in patterns:
        bare = pattern.strip("/")
        if fnmatch.fnmatchcase(path, bare) or path.startswith(bare + "/"):
            return True
    return False


class Scope(Record):
    """The files an experiment may change: explicit globs, or a frozen list of tracked files."""

    include: tuple[str, ...]
    protect: tuple[str, ...]
    files: frozenset[str] = frozenset()

    def allows(self, path: str) -> bool:
        if matches(path, _NEVER_IN_SCOPE) or matches(path, self.protect):
            return False
        return path in self.files or matches(path, self.include)

    def explain(self, path: str) -> str:
        return "protected" if matches(path, self.protect) else "outside scope"


class Candidate(Record):
    """The paths to commit (uncommitted, in scope; ``new`` are the untracked ones among them)
    and the paths changed by commits HEAD already carries."""

    uncommitted: tuple[str, ...]
    committed: tuple[str, ...]
    new: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.uncommitted and not self.committed


def collect(
    repo: StrPath, keep: str, head: str, scope: Scope, status: git.Pending | None = None
) -> Candidate:
    """Everything that differs from the keep ref; refuses changes that may not be measured.

    ``status`` is the tree's status begun earlier with ``git.start_status``.
    """
    if head != keep and not git.is_ancestor(repo, keep, head):
        raise UserError(
            f"HEAD ({head[:7]}) is not on top of the keep ref ({keep[:7]}); "
            "`autoresearch reset` returns to it"
        )
    tree = git.status(repo, status)
    committed = tuple(git.changed_files(repo, keep, head)) if head != keep else ()
    untracked_in_scope = tuple(p for p in tree.untracked if scope.allows(p))
    refuse_forbidden([*tree.changed, *committed], scope)
    return Candidate(tree.changed + untracked_in_scope, committed, new=untracked_in_scope)


def refuse_forbidden(paths: Sequence[str], scope: Scope) -> None:
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
