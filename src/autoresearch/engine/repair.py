"""`repair`: the session's files and keep ref rebuilt from its record in git.

Whatever differs is first kept aside under ``.autoresearch/TAG/repaired/WHEN/`` (a moved keep
ref's commit under an ``abandoned`` ref), so that repairing never loses anything either.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import NamedTuple

from autoresearch.engine import record
from autoresearch.engine.inflight import inflight_files
from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.errors import UserError
from autoresearch.store import git, journal, runner
from autoresearch.store.files import LEDGER_FILE, SessionFiles, activate, active_tag, session_lock


class Repaired(NamedTuple):
    restored: tuple[str, ...]  # what was put back, in words
    aside: str | None  # the folder holding the files as they were
    started: bool  # there was no record: it starts now from the files


def repair(path: str, tag: str | None = None) -> Repaired:
    """Put the files and the keep ref back as the record has them; works without
    ``session.json`` too (a `git clean -x` took it), since the record holds it."""
    repo, branch = git.locate(path)
    if tag is None:
        if branch and branch.startswith(BRANCH_PREFIX):
            tag = branch.removeprefix(BRANCH_PREFIX)
        else:
            tag = active_tag(repo)
    if not tag:
        raise UserError("no session here: check out an autoresearch/TAG branch")
    files = SessionFiles(repo, tag)
    keep_ref = f"refs/autoresearch/{tag}/keep"
    with session_lock(files):
        activate(files)  # results.tsv must be this session's before it is compared
        tip, keep = journal.read_tip(repo, tag, keep_ref)
        if tip is None:
            return _start_record(repo, tag)
        recorded = journal.rebuild(repo, tag)
        aside = _free_folder(os.path.join(files.repaired, time.strftime("%Y%m%d-%H%M%S")))
        restored: list[str] = []
        views = (
            (LEDGER_FILE, files.ledger, recorded.ledger),
            ("runs.jsonl", files.runs_jsonl, recorded.runs),
            ("session.json", files.session_json, recorded.session),
        )
        for name, where, data in views:
            current = journal.read_bytes(where)
            if current == data or (current is None and not data):
                continue
            if current is not None:
                os.makedirs(aside, exist_ok=True)
                shutil.copyfile(where, os.path.join(aside, name))
            journal.replace_file(where, data)
            restored.append(f"{name} {'rebuilt' if current is None else 'restored'}")
        session = Session.open(repo, tag)
        restored += _set_aside_unknown_inflight(session, aside)
        if keep != recorded.keep:
            moved = (
                f" (its commit {keep[:7]} kept at {session.abandoned_ref(keep)})" if keep else ""
            )
            git.update_ref(repo, keep_ref, recorded.keep)
            restored.append(f"keep ref put back to {recorded.keep[:7]}{moved}")
        record.check(session)
    return Repaired(tuple(restored), aside if os.path.isdir(aside) else None, False)


def _set_aside_unknown_inflight(session: Session, aside: str) -> list[str]:
    """In-flight files the record does not have in flight (written or edited by hand) are moved
    aside: the next command would refuse them, and finishes only those the record vouches for."""
    found = [(path, held) for path, held in inflight_files(session) if held is not None]
    _, unknown = record.vouched(session, [held for _, held in found])
    moved = []
    for path, held in found:
        if any(held is other for other in unknown):
            # Its run, if any is ours, carries its id; a process group named there is not
            # trusted (the file could name anyone's).
            runner.kill_recorded({"run_id": held.get("run_id")})
            os.makedirs(aside, exist_ok=True)
            os.replace(path, os.path.join(aside, os.path.basename(path)))
            moved.append(f"the in-flight file of experiment {held.get('experiment')} set aside")
    return moved


def _free_folder(path: str) -> str:
    """``path``, or ``path-2``, ``path-3``...: never what an earlier repair kept."""
    candidate, number = path, 1
    while os.path.exists(candidate):
        number += 1
        candidate = f"{path}-{number}"
    return candidate


def _start_record(repo: str, tag: str) -> Repaired:
    """A session without a record (older than it, or its record lost): it starts now."""
    session = Session.open(repo, tag)
    session.save(session.meta._replace(recorded=True), "start")
    return Repaired((), None, True)
