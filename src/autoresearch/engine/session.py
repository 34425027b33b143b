"""A session: started from a clean tree, opened by every later command, locked while one runs.

It knows its frozen settings, its files and refs, the keep ref, and how to put the tree back at
the keep ref without losing a stray edit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, NamedTuple

from autoresearch.engine import confine
from autoresearch.errors import UserError
from autoresearch.rules import columns
from autoresearch.rules.metrics import Pattern, compile_pattern, default_pattern
from autoresearch.rules.scope import Scope
from autoresearch.rules.settings import PROGRAM_FILE, Settings
from autoresearch.store import git, guard, journal
from autoresearch.store.executors.local import LocalExecutor
from autoresearch.store.files import (
    EXCLUDED,
    RESERVED,
    SessionFiles,
    activate,
    active_tag,
    now,
    parking_place,
    read_json,
    session_lock,
    write_json,
)
from autoresearch.store.ledger import Ledger, create_ledger, read_ledger
from autoresearch.store.sandbox import Policy

BRANCH_PREFIX = "autoresearch/"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def default_scope_files(
    repo: str, settings: Settings, settings_file: str | None
) -> tuple[str, ...]:
    """Without scope globs, the tracked files an experiment may change, frozen at the start:
    all but the settings file and the research program (protected ones are refused anyway)."""
    if settings.scope:
        return ()
    excluded = {settings_file, PROGRAM_FILE}
    return tuple(path for path in git.tracked_files(repo) if path not in excluded)


class SessionMeta(NamedTuple):
    """What a session froze at its start, and what happened to it since (rewinds, an import)."""

    settings: Settings
    settings_file: str | None
    start_commit: str
    created: float
    scope_files: tuple[str, ...] = ()
    identity: bool = True  # whether git knows who commits here; else the tool names itself
    protected: Mapping[str, Mapping[str, Any]] = _EMPTY  # fingerprints, by path
    rewinds: tuple[Mapping[str, Any], ...] = ()
    imported: Mapping[str, Any] | None = None
    start_branch: str | None = None  # where `autoresearch end` goes back to (None: detached)
    changes: tuple[Mapping[str, Any], ...] = ()  # `autoresearch config`, oldest first
    recorded: bool = False  # kept in the record in git; a session older than the record is not
    # The ended session this one continues after a change of the protected harness:
    # {"tag", "keep"} (see engine/continued.py); None: it continues none.
    continues: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self._asdict(),
            "settings": self.settings.to_dict(),
            "scope_files": list(self.scope_files),
            "protected": {path: dict(print_) for path, print_ in self.protected.items()},
            "rewinds": [dict(rewind) for rewind in self.rewinds],
            "imported": None if self.imported is None else dict(self.imported),
            "changes": [dict(change) for change in self.changes],
            "continues": None if self.continues is None else dict(self.continues),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionMeta:
        return cls(
            settings=Settings.from_dict(data["settings"]),
            settings_file=data.get("settings_file"),
            start_commit=str(data["start_commit"]),
            created=float(data.get("created") or 0.0),
            scope_files=tuple(data.get("scope_files") or ()),
            identity=bool(data.get("identity", True)),
            protected=data.get("protected") or _EMPTY,
            rewinds=tuple(data.get("rewinds") or ()),
            imported=data.get("imported"),
            start_branch=data.get("start_branch"),
            changes=tuple(data.get("changes") or ()),
            recorded=bool(data.get("recorded", False)),
            continues=data.get("continues"),
        )


class Session:
    def __init__(self, files: SessionFiles, meta: SessionMeta) -> None:
        self.files = files
        self.repo = files.repo
        self.tag = files.tag
        self.meta = meta
        self.settings = meta.settings
        self.keep_ref_name = f"refs/autoresearch/{self.tag}/keep"
        self.patterns = self._metric_patterns()
        self.record: journal.Tip | None = None  # the record's last entry, once read or written
        # The experiments this process has in flight, by number: their commits. A run line that
        # names one of them is the tool's own, and goes into the record.
        self.running: dict[int, tuple[str, str]] = {}  # by number: commit, base

    # ----- starting and finding a session -------------------------------------------------

    @classmethod
    def check_start(cls, repo: str, settings: Settings) -> str:
        """Refuse, changing nothing, what would stop a start; returns the commit to start from."""
        start = git.head(repo)
        if start is None:
            raise UserError("HEAD is unborn: make a first commit before starting a session")
        dirty = git.status(repo).changed
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise UserError(f"tracked files have uncommitted changes ({shown}); commit or stash")
        branch = BRANCH_PREFIX + settings.tag
        if not git.is_ref_format(repo, f"refs/heads/{branch}"):
            raise UserError(f"tag {settings.tag!r} is not usable in a branch name (git refuses it)")
        for folder in settings.writable:
            if not os.path.isdir(folder):
                raise UserError(f"writable folder {folder!r} does not exist")
        confine.sandboxed(settings)
        files = SessionFiles(repo, settings.tag)
        if git.branch_exists(repo, branch):
            raise UserError(f"branch {branch} already exists; choose another --tag")
        if files.exists():
            raise UserError(f"session {settings.tag} already has state in {files.dir}")
        parking_place(files)  # a results.tsv that cannot be moved aside refuses the start
        return start

    @classmethod
    def start(
        cls,
        path: str,
        settings: Settings,
        settings_file: str | None,
        parallel: bool = False,
        continues: Mapping[str, str] | None = None,
    ) -> Session:
        """Create branch, exclusions, ledger and frozen settings; refuse before any change.
        ``parallel``: the ledger gets the columns of parallel runs (base, worker);
        ``continues``: the ended session this one continues (checked already)."""
        repo = git.toplevel(path)
        start = cls.check_start(repo, settings)
        branch = BRANCH_PREFIX + settings.tag
        if not git.is_ref_format(repo, f"refs/heads/{branch}"):
            raise UserError(f"tag {settings.tag!r} is not usable in a branch name (git refuses it)")
        files = SessionFiles(repo, settings.tag)
        scope_files = default_scope_files(repo, settings, settings_file)
        start_branch = git.current_branch(repo)
        git.create_branch(repo, branch)
        git.exclude(repo, EXCLUDED)
        meta = SessionMeta(
            settings=settings,
            settings_file=settings_file,
            start_commit=start,
            created=now(),
            scope_files=scope_files,
            identity=git.has_identity(repo),
            protected=guard.snapshot(repo, settings.protect, files.protected_backup),
            start_branch=start_branch,
            recorded=True,
            continues=continues,
        )
        write_json(files.session_json, meta.to_json())
        activate(files)
        metrics = [settings.metric, *settings.also]
        header = columns.header(metrics, settings.holdout_column, parallel)
        create_ledger(files.ledger, header)
        git.update_ref(repo, f"refs/autoresearch/{settings.tag}/keep", start)
        session = cls(files, meta)
        session.write_record({"kind": "start"}, keep=start, settings_saved=True)
        return session

    @classmethod
    def open(cls, path: str, tag: str | None = None) -> Session:
        """The session of the checked-out ``autoresearch/TAG`` branch (or the one named)."""
        repo, branch = git.locate(path)
        if tag is None:
            if branch and branch.startswith(BRANCH_PREFIX):
                tag = branch[len(BRANCH_PREFIX) :]
            elif branch is None and active_tag(repo):
                tag = active_tag(repo)  # detached by an interrupted audit: still that session
            else:
                raise UserError(
                    "no session here: check out an autoresearch/TAG branch or run "
                    "`autoresearch init`"
                )
        assert tag is not None
        files = SessionFiles(repo, tag)
        data = read_json(files.session_json)
        if data is None:
            raise UserError(f"no session {tag!r} in {files.root} (run `autoresearch init`)")
        activate(files)
        return cls(files, SessionMeta.from_json(data))

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One command at a time per session."""
        with session_lock(self.files):
            yield

    def save(
        self, meta: SessionMeta, kind: str, written: journal.Written = journal.NOTHING
    ) -> None:
        """Record what happened to the session (a rewind, an import, a changed setting) in its
        frozen state, and in the record (``written``: the rows it appended, for an import)."""
        write_json(self.files.session_json, meta.to_json())
        self.meta = meta
        if meta.settings != self.settings:  # `autoresearch config` changed a setting
            self.settings = meta.settings
            self.patterns = self._metric_patterns()
        self.write_record({"kind": kind}, written=written, settings_saved=True)

    # ----- the record in git, of which the files are views --------------------------------

    @property
    def record_store(self) -> journal.Journal:
        views = journal.Views(self.files.ledger, self.files.runs_jsonl, self.files.session_json)
        return journal.Journal(self.repo, self.tag, views)

    def read_record(self) -> tuple[journal.Tip | None, str | None]:
        """The record's tip and the keep ref as git has them now, in one git call."""
        with self.start_reading_record() as reading:
            return self.parse_record(reading.output())

    def start_reading_record(self) -> git.Pending:
        """``read_record`` begun: other work can be done until ``parse_record`` of its output."""
        return journal.start_reading_tip(self.repo, self.tag, self.keep_ref_name)

    def parse_record(self, out: str) -> tuple[journal.Tip | None, str | None]:
        tip, keep = journal.parse_tip(out)
        self.record = tip
        return tip, keep

    def start_record(
        self,
        fields: Mapping[str, Any],
        keep: str | None = None,
        written: journal.Written = journal.NOTHING,
        settings_saved: bool = False,
    ) -> journal.Entry:
        """Begin the record's next entry, holding what the tool ``written`` for it;
        ``finish_record`` moves the record to it."""
        tip = self.record if self.record is not None else self.read_record()[0]
        keep = keep or self.keep_ref()
        return journal.append(self.record_store, tip, keep, fields, written, settings_saved)

    def finish_record(self, entry: journal.Entry) -> None:
        self.record = entry.commit()

    def write_record(
        self,
        fields: Mapping[str, Any],
        keep: str | None = None,
        written: journal.Written = journal.NOTHING,
        settings_saved: bool = False,
    ) -> None:
        self.finish_record(self.start_record(fields, keep, written, settings_saved))

    def own_runs(self) -> dict[tuple[int, str], tuple[float, ...] | None]:
        """The runs of the experiments in flight here (the candidate's and its keep ref's), whose
        values are not known yet."""
        return {(number, commit): None for number, pair in self.running.items() for commit in pair}

    # ----- what the session knows -----------------------------------------------------------

    @property
    def scope(self) -> Scope:
        return Scope(
            self.settings.scope, self.settings.protect, frozenset(self.meta.scope_files), RESERVED
        )

    @staticmethod
    def planned_scope(repo: str, settings: Settings, settings_file: str | None) -> Scope:
        """The scope a session started now with ``settings`` would have."""
        files = default_scope_files(repo, settings, settings_file)
        return Scope(settings.scope, settings.protect, frozenset(files), RESERVED)

    def exp_ref(self, number: int) -> str:
        """Where experiment ``number`` (its ledger row) is pinned."""
        return f"refs/autoresearch/{self.tag}/exp/{number}"

    def keep_ref(self) -> str:
        commit = git.resolve(self.repo, self.keep_ref_name)
        if commit is None:
            raise UserError(f"the keep ref {self.keep_ref_name} is missing")
        return commit

    def require_run(self) -> None:
        """Refuse, changing nothing, when nothing can run: an imported history has no command."""
        if not self.settings.run:
            raise UserError(
                f"session {self.tag} has no run command: set one with `autoresearch config run CMD`"
            )
        # sandbox = on where it does not work refuses here.
        confine.sandboxed(self.settings, self.files.sandbox_probe)

    @property
    def confine(self) -> Policy | None:
        """The sandbox of this session's runs; None: they go without one."""
        return confine.run_policy(
            self.repo, self.settings, self.meta.protected, self.files.sandbox_probe
        )

    def in_place(self, devices: tuple[str, ...] = ()) -> LocalExecutor:
        """Where this session's runs in the user's tree go: the tree, but for what no commit
        holds and changed between runs (``store.untracked``)."""
        unseen = confine.in_place(self.files, self.settings, self.meta.protected)
        return LocalExecutor(self.repo, devices, unseen)

    def read_ledger(self) -> Ledger:
        if not os.path.exists(self.files.ledger):
            raise UserError(
                f"{self.files.ledger} is missing: `autoresearch repair` rebuilds it from the "
                "session's record"
            )
        return read_ledger(self.files.ledger)

    def best_value(self, ledger: Ledger, keep: str) -> float | None:
        """The keep ref's measured metric, or None while nothing has been measured."""
        row = ledger.kept_row(keep)
        if row is not None:
            return row.value
        imported = self.meta.imported
        if imported is not None and imported.get("keep_ref") == keep:
            # An adopted history whose commits are not in this repository: its last keep is
            # the best so far, and HEAD stands for it.
            last = imported.get("last_keep")
            return float(last["value"]) if isinstance(last, Mapping) else None
        return None

    def _metric_patterns(self) -> dict[str, Pattern]:
        s = self.settings
        main = compile_pattern(s.pattern) if s.pattern else default_pattern(s.metric)
        return {s.metric: main, **{name: default_pattern(name) for name in s.also}}

    # ----- back to the keep ref ----------------------------------------------------------------

    def restore(
        self, keep: str, tried: str | None = None, snapshot: git.Pending | None = None
    ) -> str | None:
        """Reset hard to the keep ref, first pinning any uncommitted edits under a ref; returns
        that ref, or the one that now keeps an unpinned commit HEAD was on (None: nothing to keep).

        ``tried`` names a commit known to be HEAD and pinned already, which spares the lookups;
        ``snapshot`` is ``git.start_snapshot`` begun already.
        """
        head = tried or git.head(self.repo)
        pinned = git.snapshot_uncommitted(self.repo, snapshot)
        ref = self.abandoned_ref(pinned) if pinned else None
        git.reset_hard(self.repo, keep)
        if (
            ref is None
            and head
            and head not in (keep, tried)
            and not git.is_ancestor(self.repo, head, keep)
        ):
            tried_commits = git.list_refs(self.repo, f"refs/autoresearch/{self.tag}/exp/")
            if head not in tried_commits.values():
                ref = self.abandoned_ref(head)
        return ref

    def abandoned_ref(self, commit: str) -> str:
        """Pin ``commit`` under the next free ``abandoned/N`` ref, never moving an existing one."""
        prefix = f"refs/autoresearch/{self.tag}/abandoned/"
        taken = [name.removeprefix(prefix) for name in git.list_refs(self.repo, prefix)]
        last = max((int(n) for n in taken if n.isdigit()), default=0)
        ref = f"{prefix}{last + 1}"
        git.create_ref(self.repo, ref, commit)
        return ref
