"""The kept changes of a session as git sees them: which kept commit each keep builds on.

The ledger records short hashes in the order experiments ran. A keep builds on the nearest
earlier kept commit that is its ancestor (the starting point for the first), which is not
always the previous keep in the ledger: a rewind moves the keep ref back and later keeps build
on the older one. Rows whose commits are not in this repository (an imported history) are left
out.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from autoresearch.engine.session import Session
from autoresearch.rules import verdict
from autoresearch.store import git
from autoresearch.store.ledger import Ledger, Row

_HASH = re.compile(r"^[0-9a-f]{4,40}$")
# A kept change that rewrote a data file can have a diff of many megabytes; a report shows
# this much of it and names the command that shows the rest.
MAX_DIFF_CHARS = 100_000


class KeptStep(NamedTuple):
    """One kept commit and the kept commit (or the starting point) it builds on."""

    row: Row
    commit: str
    parent: str | None
    before: float | None

    @property
    def value(self) -> float:
        return self.row.value


def start_commit(session: Session) -> str:
    return session.meta.start_commit


def resolve_kept(session: Session, ledger: Ledger) -> dict[int, str]:
    """Full hashes of the kept rows, by ledger line. Experiment N is pinned as ``exp/N`` and is
    the Nth row, which settles a short hash two experiments share; other rows ask git."""
    prefix = f"refs/autoresearch/{session.tag}/exp/"
    pinned = {
        int(name[len(prefix) :]): commit
        for name, commit in git.list_refs(session.repo, prefix).items()
        if name[len(prefix) :].isdigit()
    }
    resolved: dict[int, str] = {}
    unpinned: dict[int, str] = {}
    for number, row in enumerate(ledger.rows):
        if row.status != verdict.KEEP or not _HASH.match(row.commit):
            continue
        commit = pinned.get(number, "")
        if commit.startswith(row.commit):
            resolved[row.line] = commit
        else:
            unpinned[row.line] = row.commit
    found = git.resolve_commits(session.repo, sorted(set(unpinned.values())))
    resolved.update({line: found[short] for line, short in unpinned.items() if short in found})
    return resolved


def kept_steps(session: Session, ledger: Ledger) -> list[KeptStep]:
    """Every kept commit of the ledger that exists here, in ledger order, with its parent keep."""
    repo, start = session.repo, start_commit(session)
    kept = [row for row in ledger.rows if row.status == verdict.KEEP]
    resolved = resolve_kept(session, ledger)
    values: dict[str, float] = {}
    earlier: list[str] = []
    steps = []
    for row in kept:
        commit = resolved.get(row.line)
        if commit is None or commit in values:
            continue
        parent = next((c for c in reversed(earlier) if git.is_ancestor(repo, c, commit)), None)
        if parent is None and commit != start and git.is_ancestor(repo, start, commit):
            parent = start  # the baseline crashed: the first keep builds on the unmeasured start
        values[commit] = row.value
        earlier.append(commit)
        steps.append(KeptStep(row, commit, parent, values.get(parent) if parent else None))
    return steps


def final_chain(session: Session, steps: list[KeptStep], keep: str) -> list[KeptStep]:
    """The kept changes the keep ref carries: made in this session, ancestors of the keep ref.

    A keep abandoned by a rewind is not an ancestor of the keep ref, and the commits of an
    imported history are ancestors of the starting point: neither is part of the result.
    """
    repo, start = session.repo, start_commit(session)
    return [
        step
        for step in steps
        if step.parent is not None
        and git.is_ancestor(repo, step.commit, keep)
        and not git.is_ancestor(repo, step.commit, start)
    ]


def kept_diffs(session: Session, steps: list[KeptStep]) -> dict[str, str]:
    """Each keep's diff against the keep it builds on, keyed by the ledger's commit."""
    diffs = {}
    for step in steps:
        if step.parent is None:
            continue
        text = git.diff(session.repo, step.parent, step.commit)
        if len(text) > MAX_DIFF_CHARS:
            text = (
                text[:MAX_DIFF_CHARS]
                + f"\n... cut at {MAX_DIFF_CHARS:,} characters; the whole diff: "
                f"git diff {step.parent[:7]} {step.commit[:7]}\n"
            )
        if text:
            diffs[step.row.commit] = text
    return diffs
