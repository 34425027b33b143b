"""A session that continues an ended one: the way to change the protected harness mid-night.

No experiment may change a protected file, so a bug in the evaluation is fixed outside any
session: the old one ends, the fix is committed on top of its keep ref, and a new session starts
there with ``init --continue OLD``. The new session names the one it continues in its frozen
state (and so in its record); the views then read the earlier sessions from their own records
and show the chain as one history, each session on its own scale: a baseline measured under a
changed harness is not comparable with the numbers before it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import NamedTuple

from autoresearch.engine.session import BRANCH_PREFIX, Session, SessionMeta
from autoresearch.errors import UserError
from autoresearch.rules.settings import Settings
from autoresearch.store import git, journal
from autoresearch.store.files import SessionFiles, active_tag, read_json
from autoresearch.store.ledger import Ledger, parse_lines, read_ledger


class Continued(NamedTuple):
    """The session a new one continues, as it stood when the new one began."""

    tag: str
    keep: str  # its keep ref then: the new session's start descends from it

    def to_json(self) -> dict[str, str]:
        return {"tag": self.tag, "keep": self.keep}


class Earlier(NamedTuple):
    """An earlier session of a chain, as its record has it."""

    tag: str
    meta: SessionMeta
    ledger: Ledger


def check_continues(repo: str, tag: str, head: str) -> Continued:
    """Refuse, changing nothing, a session that cannot be continued from ``head``."""
    keep = git.resolve(repo, f"refs/autoresearch/{tag}/keep")
    if keep is None or _meta(repo, tag) is None:
        raise UserError(f"no session {tag!r} to continue in this repository")
    branch = BRANCH_PREFIX + tag
    if active_tag(repo) == tag or git.current_branch(repo) == branch:
        raise UserError(
            f"session {tag} has not ended: `autoresearch end` it, commit the harness's fix on "
            f"top of its keep ref, then `init --continue {tag}`"
        )
    final = git.resolve(repo, f"refs/heads/{branch}-final")
    if not git.is_ancestor(repo, keep, head) and not (
        final is not None and git.is_ancestor(repo, final, head)
    ):
        raise UserError(
            f"HEAD does not build on session {tag}'s keep ref {keep[:7]}: start from it "
            f"(`git checkout -b fix autoresearch/{tag}`), commit the fix, then init again"
        )
    return Continued(tag, keep)


def check_same_measure(repo: str, continued: Continued, settings: Settings) -> None:
    """The chain is one history of one metric, in one direction."""
    meta = _meta(repo, continued.tag)
    assert meta is not None  # check_continues found it
    old = meta.settings
    if (old.metric, old.direction) != (settings.metric, settings.direction):
        raise UserError(
            f"session {continued.tag} measured {old.metric} ({old.direction}); a session that "
            f"continues it must too, not {settings.metric} ({settings.direction})"
        )


def earlier_sessions(session: Session) -> list[Earlier]:
    """The sessions this one continues, oldest first (empty: it continues none)."""
    chain: list[Earlier] = []
    seen = {session.tag}
    continued = session.meta.continues
    while continued is not None:
        tag = str(continued.get("tag") or "")
        if not tag or tag in seen:
            break
        seen.add(tag)
        earlier = _read(session.repo, tag)
        if earlier is None:  # its record and files were deleted: the chain ends here
            break
        chain.append(earlier)
        continued = earlier.meta.continues
    return chain[::-1]


def _read(repo: str, tag: str) -> Earlier | None:
    """The session's ledger and state from its record in git, else from its files."""
    if git.resolve(repo, journal.ref_name(tag)) is not None:
        stored = journal.rebuild(repo, tag)
        text = stored.ledger.decode("utf-8", "replace").splitlines(keepends=True)
        meta = SessionMeta.from_json(json.loads(stored.session))
        return Earlier(tag, meta, parse_lines(text, f"session {tag}"))
    files = SessionFiles(repo, tag)
    data = read_json(files.session_json)
    path = files.ledger if active_tag(repo) == tag else files.parked_ledger
    if data is None or not os.path.exists(path):
        return None
    return Earlier(tag, SessionMeta.from_json(data), read_ledger(path))


def _meta(repo: str, tag: str) -> SessionMeta | None:
    if git.resolve(repo, journal.ref_name(tag)) is not None:
        text = git.git(repo, "cat-file", "blob", f"{journal.ref_name(tag)}:{journal.SESSION_FILE}")
        data: Mapping[str, object] | None = json.loads(text)
    else:
        data = read_json(SessionFiles(repo, tag).session_json)
    return None if data is None else SessionMeta.from_json(data)
