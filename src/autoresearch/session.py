"""The engine: start a session, run one experiment, recover, reset and rewind.

One experiment, in order: collect the candidate (refusing changes out of scope), commit it, pin
it with a ref, run it with its budget, read its metrics, decide, append the ledger row (flushed
to disk), and only then move the keep ref or reset the tree. A kill at any point leaves either
an experiment in flight, which the next command finishes or records as interrupted, or nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from contextlib import nullcontext

from autoresearch import git, guard, ledger, runner, verdict
from autoresearch.candidate import Scope, collect
from autoresearch.errors import UserError
from autoresearch.experiment import Experiment, Interrupted
from autoresearch.metrics import compile_pattern, default_pattern
from autoresearch.settings import PROGRAM_FILE, Settings
from autoresearch.state import (
    EXCLUDED,
    SessionFiles,
    activate,
    active_tag,
    now,
    parking_place,
    read_json,
    session_lock,
    write_json,
)

TYPE_CHECKING = False  # typing is not imported at run time: see records.py
if TYPE_CHECKING:
    from _typeshed import StrPath

BRANCH_PREFIX = "autoresearch/"


class Session:
    def __init__(self, files: SessionFiles, meta: dict[str, object]) -> None:
        self.files = files
        self.repo = files.repo
        self.tag = files.tag
        self.meta = meta
        self.settings = Settings.from_dict(meta["settings"])  # type: ignore[arg-type]
        self.keep_ref_name = f"refs/autoresearch/{self.tag}/keep"
        self._identity = bool(meta.get("identity", True))
        self.patterns = self._metric_patterns()

    # ----- starting and finding a session -------------------------------------------------

    @classmethod
    def start(cls, path: StrPath, settings: Settings, settings_file: str | None) -> Session:
        """Create branch, exclusions, ledger and frozen settings; refuse before any change."""
        repo = git.toplevel(path)
        start = git.head(repo)
        if start is None:
            raise UserError("HEAD is unborn: make a first commit before starting a session")
        dirty = git.status(repo).changed
        if dirty:
            shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
            raise UserError(f"tracked files have uncommitted changes ({shown}); commit or stash")
        branch = BRANCH_PREFIX + settings.tag
        files = SessionFiles(repo, settings.tag)
        if git.branch_exists(repo, branch):
            raise UserError(f"branch {branch} already exists; choose another --tag")
        if files.exists():
            raise UserError(f"session {settings.tag} already has state in {files.dir}")
        parking_place(files)  # a results.tsv that cannot be moved aside refuses the start
        excluded_from_default = {settings_file, PROGRAM_FILE}
        scope_files = (
            []
            if settings.scope
            else [p for p in git.tracked_files(repo) if p not in excluded_from_default]
        )
        git.create_branch(repo, branch)
        git.exclude(repo, EXCLUDED)
        protected = guard.snapshot(repo, settings.protect, files.protected_backup)
        meta = {
            "settings": settings.to_dict(),
            "settings_file": settings_file,
            "start_commit": start,
            "created": now(),
            "scope_files": scope_files,
            "identity": git.has_identity(repo),
            "rewinds": [],
            "protected": protected,
        }
        write_json(files.session_json, meta)
        activate(files)
        metrics = [settings.metric, *settings.also]
        holdout = [settings.holdout_column] if settings.holdout_column else []
        ledger.create_ledger(
            files.ledger,
            ["commit", *metrics, *ledger.RUN_COLUMNS, *holdout, "status", "description"],
        )
        git.update_ref(repo, f"refs/autoresearch/{settings.tag}/keep", start)
        return cls(files, meta)

    @classmethod
    def open(cls, path: StrPath, tag: str | None = None) -> Session:
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
        meta = read_json(files.session_json)
        if meta is None:
            raise UserError(f"no session {tag!r} in {files.root} (run `autoresearch init`)")
        activate(files)
        return cls(files, meta)

    def lock(self):  # noqa: ANN201 - a context manager
        return session_lock(self.files)

    # ----- what the session knows -----------------------------------------------------------

    @property
    def scope(self) -> Scope:
        files = frozenset(self.meta.get("scope_files") or ())  # type: ignore[arg-type]
        return Scope(self.settings.scope, self.settings.protect, files)

    def keep_ref(self) -> str:
        commit = git.resolve(self.repo, self.keep_ref_name)
        if commit is None:
            raise UserError(f"the keep ref {self.keep_ref_name} is missing")
        return commit

    def read_ledger(self) -> ledger.Ledger:
        if not os.path.exists(self.files.ledger):
            raise UserError(f"{self.files.ledger} is missing: the session's ledger is gone")
        return ledger.read_ledger(self.files.ledger)

    def best_value(self, book: ledger.Ledger, keep: str) -> float | None:
        """The keep ref's measured metric, or None while nothing has been measured."""
        row = book.kept_row(keep)
        if row is not None:
            return row.value
        imported = self.meta.get("imported")
        if isinstance(imported, dict) and imported.get("keep_ref") == keep:
            # An adopted history whose commits are not in this repository: its last keep is
            # the best so far, and HEAD stands for it.
            last = imported.get("last_keep")
            return float(last["value"]) if isinstance(last, dict) else None
        return None

    def _metric_patterns(self) -> dict[str, re.Pattern[str]]:
        s = self.settings
        main = compile_pattern(s.pattern) if s.pattern else default_pattern(s.metric)
        return {s.metric: main, **{name: default_pattern(name) for name in s.also}}

    # ----- one experiment --------------------------------------------------------------------

    def try_candidate(
        self,
        description: str,
        on_start: Callable[[int], None] | None = None,
        on_tick: Callable[[float], None] | None = None,
        tokens: int | None = None,
        cost_usd: float | None = None,
    ) -> Experiment:
        """Commit what differs from the keep ref and measure it. Call with the lock held."""
        description = ledger.sanitize(description) or "(no description)"
        # git runs side by side where one step does not need another's answer: each call
        # costs a process start, and a try is mostly such starts.
        with git.start_status(self.repo) as status:
            book = self.read_ledger()
            number = book.data_lines
            exp_ref = f"refs/autoresearch/{self.tag}/exp/{number}"
            found = git.resolve_commits(self.repo, [self.keep_ref_name, "HEAD", exp_ref])
            keep = found.get(self.keep_ref_name) or self.keep_ref()  # that one says what is wrong
            head = found.get("HEAD") or keep
            candidate = collect(self.repo, keep, head, self.scope, status)
        best = self.best_value(book, keep)
        commit: str | None  # None: the commit just made, read while it is pinned
        if candidate.uncommitted:
            paths, new_files = list(candidate.uncommitted), bool(candidate.new)
            git.commit_worktree(self.repo, paths, description, self._identity, new_files)
            commit = None
        elif candidate.committed and book.row_for(head[:7]) is None:
            commit = head
        elif head == keep and best is None and book.row_for(head[:7]) is None:
            commit = head  # the starting point was never measured: this is the baseline
        else:
            tried = book.row_for(head[:7])
            if tried is not None and head != keep:
                raise UserError(
                    f"nothing new to try: {head[:7]} was already tried ({tried.status}); "
                    "edit files, or `autoresearch reset`"
                )
            raise UserError(f"nothing to try: no change from the keep ref {keep[:7]}")
        if exp_ref in found:  # rows were taken out of the ledger by hand: that pin stays put
            commit = commit or git.head_commit(self.repo)
            exp_ref += f"-{commit[:7]}"
        return self._measure(
            number,
            exp_ref,
            commit,
            keep,
            book,
            best,
            description,
            on_start,
            on_tick,
            tokens,
            cost_usd,
        )

    def _measure(
        self,
        number: int,
        exp_ref: str,
        commit: str | None,
        keep: str,
        book: ledger.Ledger,
        best: float | None,
        description: str,
        on_start: Callable[[int], None] | None,
        on_tick: Callable[[float], None] | None,
        tokens: int | None,
        cost_usd: float | None,
    ) -> Experiment:
        from autoresearch.measure import Measurer

        # A commit just made is pinned and counted as HEAD while its name is read: the lock
        # keeps every other command of the tool from moving HEAD meanwhile.
        tip = commit or "HEAD"
        with (
            git.start_create_ref(self.repo, exp_ref, tip) as pinning,
            git.start_line_counts(self.repo, keep, tip) as counting,
        ):
            commit = commit or git.head_commit(self.repo)
            inflight = {
                "experiment": number,
                "commit": commit,
                "keep": keep,
                "description": description,
                "started": now(),
                "budget": self.settings.budget,
                "group": None,
            }
            # Not fsynced: the record is for a kill of the tool, which the rename survives.
            # Only a power cut in the run's first seconds could lose it (the kernel writes it
            # back within half a minute), and then no result is lost: the commit is simply
            # measured again.
            write_json(self.files.inflight_json, inflight, durable=False)
            baseline = next((r.value for r in book.rows if r.status == verdict.KEEP), None)
            pinning.output()  # pinned before it runs
            measurer = Measurer(self, number, commit, inflight, on_start, on_tick)
            outcome = measurer.measure(keep, best, baseline, lambda: git.line_counts(counting))
        decision = outcome.verdict
        crashed = decision.status == verdict.CRASH
        resetting = decision.status == verdict.DISCARD or outcome.interrupted
        # Stray edits are pinned while the row is written: both are done before the reset.
        with git.start_snapshot(self.repo) if resetting else nullcontext() as snapshot:
            self.record_row(
                commit,
                outcome.metrics,
                outcome.seconds,
                decision.status,
                description,
                tokens,
                cost_usd,
                runs=len(outcome.values),
                spread=outcome.spread,
                holdout=outcome.holdout,
            )
            keep_after, pinned = self.settle(
                decision.status, commit, keep, interrupted=outcome.interrupted, snapshot=snapshot
            )
        os.unlink(self.files.inflight_json)
        log = outcome.log or self.files.archived_log(number, commit)
        experiment = Experiment(
            number=number,
            commit=commit,
            status=decision.status,
            reason=decision.reason,
            metric=self.settings.metric,
            value=None if crashed else outcome.metrics.get(self.settings.metric),
            metrics=outcome.metrics,
            best_before=best,
            keep_ref=keep_after,
            seconds=outcome.seconds,
            description=description,
            log=os.path.relpath(log, self.repo),
            tail=runner.tail(log) if crashed else [],
            runs=len(outcome.values),
            spread=outcome.spread,
            holdout=outcome.holdout,
            notes=[
                note
                for note in (
                    outcome.holdout_note,
                    pinned and f"edits made to tracked files during the run: kept at {pinned}",
                )
                if note
            ],
        )
        if outcome.interrupted:
            raise Interrupted(experiment)
        return experiment

    def crash_reason(self, result: runner.RunResult, readings: dict) -> str | None:
        if result.interrupted:
            return "interrupted"
        if result.timed_out:
            return f"timeout after {self.settings.kill_after:g} s"
        if result.exit_code:
            if result.exit_code < 0:
                return f"killed by signal {-result.exit_code}"
            return f"exit {result.exit_code}"
        problems = [r.problem for r in readings.values() if r.problem]
        return problems[0] if problems else None

    def record_row(
        self,
        commit: str,
        metrics: dict[str, float | None],
        seconds: float,
        status: str,
        description: str,
        tokens: int | None,
        cost_usd: float | None,
        runs: int = 0,
        spread: float | None = None,
        holdout: float | None = None,
    ) -> None:
        cells: dict[str, object] = {name: (0.0 if v is None else v) for name, v in metrics.items()}
        if self.settings.holdout_column:
            cells[self.settings.holdout_column] = holdout
        cells.update(
            commit=commit[:7],
            runs=runs,
            spread=None if spread is None else float(f"{spread:.6g}"),
            seconds=f"{seconds:.1f}",
            tokens=tokens,
            cost_usd=cost_usd,
            status=status,
            description=description,
        )
        ledger.append_row(self.files.ledger, cells)

    def settle(
        self,
        status: str,
        commit: str,
        keep: str,
        interrupted: bool = False,
        recovering: bool = False,
        snapshot: git.Pending | None = None,
    ) -> tuple[str, str | None]:
        """After the row is on disk: move the keep ref, or reset the tree to it.

        Returns the keep ref after, and the ref holding uncommitted edits that a reset had to
        clear (None when there were none). ``snapshot``: ``git.start_snapshot`` begun since the
        run ended, for the reset.
        """
        if status == verdict.KEEP:
            git.update_ref(self.repo, self.keep_ref_name, commit)
            if recovering and git.head(self.repo) != commit:
                git.reset_hard(self.repo, commit)
            return commit, None
        if status == verdict.DISCARD or interrupted:
            return keep, self.restore(keep, tried=commit, snapshot=snapshot)
        return keep, None

    def restore(
        self, keep: str, tried: str | None = None, snapshot: git.Pending | None = None
    ) -> str | None:
        """Reset hard to the keep ref, first pinning any uncommitted edits under a ref.

        ``tried`` names a commit known to be HEAD and pinned already, which spares the lookups;
        ``snapshot`` is ``git.start_snapshot`` begun already.
        """
        head = tried or git.head(self.repo)
        pinned = git.snapshot_uncommitted(self.repo, snapshot)
        ref = None
        if pinned:
            ref = self._abandoned_ref(pinned)
        git.reset_hard(self.repo, keep)
        if (
            ref is None
            and head
            and head not in (keep, tried)
            and not git.is_ancestor(self.repo, head, keep)
        ):
            tried = git.list_refs(self.repo, f"refs/autoresearch/{self.tag}/exp/")
            if head not in tried.values():
                ref = self._abandoned_ref(head)
        return ref

    def _abandoned_ref(self, commit: str) -> str:
        prefix = f"refs/autoresearch/{self.tag}/abandoned/"
        taken = [name.removeprefix(prefix) for name in git.list_refs(self.repo, prefix)]
        last = max((int(n) for n in taken if n.isdigit()), default=0)
        ref = f"{prefix}{last + 1}"
        git.create_ref(self.repo, ref, commit)
        return ref
