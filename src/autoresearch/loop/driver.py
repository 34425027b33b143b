"""The autonomous loop: ask the agent, run the experiment step, repeat until a stop condition.

The tool is the loop, so nothing but a stop condition or the user ends it. The first Ctrl-C
lets the running experiment finish and then stops; the second kills the run at once. Either way
the tree ends at the keep ref and every finished experiment is in the ledger.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import NamedTuple

from autoresearch.engine import record, recovery
from autoresearch.engine.experiment import Experiment, Interrupted
from autoresearch.engine.measure import UNWATCHED, Watch
from autoresearch.engine.session import Session
from autoresearch.engine.step import Attempt, try_candidate
from autoresearch.engine.workers import WorkerPlan
from autoresearch.errors import UserError
from autoresearch.history.retry import retry
from autoresearch.loop.agents.base import (
    Agent,
    AgentError,
    AgentRequest,
    Outcome,
    Proposal,
    asked_retry,
)
from autoresearch.loop.prompt import PromptInputs, build_prompt
from autoresearch.loop.tracking import Tracking
from autoresearch.reports.progress import Progress, most_runs
from autoresearch.rules.settings import PROGRAM_FILE
from autoresearch.rules.settings_table import default
from autoresearch.rules.verdict import CRASH, KEEP, is_better
from autoresearch.store import git
from autoresearch.store.executors import Executor
from autoresearch.store.files import write_text
from autoresearch.store.ledger import Ledger


class StopRules(NamedTuple):
    max_experiments: int | None = None
    max_hours: float | None = None
    target: float | None = None
    plateau: int | None = None
    max_cost: float | None = None
    max_fix_attempts: int = default("max_fix_attempts")
    max_failures: int = default("max_failures")
    max_crashes: int = default("max_crashes")  # run crashes in a row; 0: never stop for them
    # The limits the settings file set (no flag given), named as the user wrote them there.
    from_file: frozenset[str] = frozenset()
    settings_file: str = ""

    def said(self, name: str, shown: str) -> str:
        """A limit as the user gave it: ``--max-experiments 5`` or, where the settings file set
        it, ``max_experiments = 5 in autoresearch.toml``."""
        if name in self.from_file:
            return f"{name} = {shown} in {os.path.basename(self.settings_file)}"
        return f"--{name.replace('_', '-')} {shown}"


class LoopSetup(NamedTuple):
    """What a loop works with; `launch.running` starts it and closes it around the loop."""

    agent: Agent
    agent_name: str
    rules: StopRules = StopRules()
    program: Path | None = None
    executors: tuple[Executor, ...] = ()  # one per worker; none: runs in the repository itself
    plan: WorkerPlan | None = None  # how the workers share the devices out (parallel loops)
    tracking: Tracking | None = None


class LoopReport:
    """What the loop tells the terminal: each event as it happens, and why it stopped."""

    def __init__(self, say: Callable[[str], None], progress: Progress | None = None) -> None:
        self.say = say
        self.progress = progress  # the live line at a terminal
        self.experiments: list[Experiment] = []
        self.stop_reason = ""
        self.stopped_now = False  # by a second Ctrl-C, SIGTERM or SIGHUP: the exit says so
        self.failed = False  # stopped because something is broken, not by a rule the user set


class StopRequest:
    """First Ctrl-C: finish the experiment in hand, then stop. Second: stop now."""

    def __init__(self, tell: Callable[[str], None]) -> None:
        self.requested = False
        self.tell = tell
        self._previous: object = None

    def __enter__(self) -> StopRequest:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.tell("stopping after this experiment (Ctrl-C again to stop now)")


class Loop:
    def __init__(self, session: Session, setup: LoopSetup, report: LoopReport) -> None:
        self.session = session
        # Where runs happen: the one worker's executor; None: in the repository itself.
        self.executor = setup.executors[0] if setup.executors else None
        self.tracking = setup.tracking
        self.agent = setup.agent
        self.agent_name = setup.agent_name
        self.rules = setup.rules
        self.report = report
        self.program = setup.program
        self.started = time.monotonic()
        self.failures_in_a_row = 0
        self.crashes: list[Experiment] = []  # the run crashes since the last measured run
        self.attempt = 0

    def run(self) -> LoopReport:
        progress = self.report.progress
        tell = progress.note if progress is not None else self.report.say
        with self.session.lock(), StopRequest(tell) as stop:
            for message in recovery.recover(self.session):
                self.report.say(f"recovered: {message}")
            changed = False
            try:
                while not stop.requested:
                    reason = self.stop_reason()
                    if reason:
                        self.report.stop_reason = reason
                        break
                    self.one_idea()
                else:
                    self.report.stop_reason = "stopped at your request (Ctrl-C)"
            except (KeyboardInterrupt, Interrupted) as interruption:
                if isinstance(interruption, Interrupted):
                    self.report.experiments.append(interruption.experiment)
                    self.report.say(self.verdict_line(interruption.experiment))
                    self.track(interruption.experiment)
                self.report.stop_reason = "stopped now at your request (second Ctrl-C)"
                self.report.stopped_now = True
            except record.RecordChanged:
                changed = True  # the keep ref itself may be wrong: the tree stays as it is
                raise
            finally:
                if not changed:
                    self.return_to_keep()
        return self.report

    # ----- one idea: a proposal, its experiment, and fixes if it crashed ---------------------

    def one_idea(self) -> None:
        experiment = self.ask_and_try(crash=None)
        if experiment is None:
            return
        fixes = self.rules.max_fix_attempts if getattr(self.agent, "can_fix", True) else 0
        while experiment.status == CRASH and fixes > 0 and not self.too_many_crashes():
            fixes -= 1
            fixed = self.ask_and_try(crash=experiment)
            if fixed is None:
                break
            experiment = fixed
        if experiment.status == CRASH:
            self.return_to_keep()

    def ask_and_try(self, crash: Experiment | None) -> Experiment | None:
        self.attempt += 1
        ledger = self.session.read_ledger()  # read once: the prompt and the ticker share it
        number = ledger.data_lines
        doing = f"fixing {crash.commit[:7]}" if crash else "working"
        self.status_line(f"experiment {number}: {self.agent_name} {doing}")
        try:
            proposal = self.agent.propose(self.request(crash, ledger))
            record.check(self.session)  # the agent may have touched the books during its turn
            proposal = self.bring_back(proposal, self.session.repo)
            if not self.has_changes():
                raise AgentError("the agent made no change")
            description = proposal.description
            if crash is not None:
                description = f"{description} (fix of {crash.commit[:7]})"
            experiment = try_candidate(
                self.session,
                Attempt(description, proposal.tokens, proposal.cost_usd),
                self.run_watch(number, ledger),
                executor=self.executor,
            )
        except record.RecordChanged:
            raise  # not a failed attempt: nothing goes on until the record is put back
        except (AgentError, UserError) as failure:
            self.failed(str(failure), crash)
            return None
        self.failures_in_a_row = 0
        self.crashes = [*self.crashes, experiment] if experiment.status == CRASH else []
        self.report.experiments.append(experiment)
        self.track(experiment, proposal.details)
        self.agent.observe(self.outcome(experiment))
        self.report.say(self.verdict_line(experiment, proposal.cost_usd))
        return experiment

    def bring_back(self, proposal: Proposal, workdir: str) -> Proposal:
        """An agent that asked for `retry N` gets experiment N's change as its candidate (a
        UserError, a failed attempt, says why it cannot)."""
        number = asked_retry(proposal.description)
        if number is None:
            return proposal
        retried = retry(self.session, number, workdir)
        self.report.say(f"retry: experiment {number}'s change is the candidate again")
        again = f"again: {retried.row.description} (retry of {number})"
        return proposal._replace(description=again)

    def track(self, experiment: Experiment, details: dict[str, object] | None = None) -> None:
        if self.tracking is not None:
            self.tracking.submit(experiment, details)

    def failed(self, reason: str, crash: Experiment | None) -> None:
        self.failures_in_a_row += 1
        self.agent.observe(Outcome(commit="", status="failed", value=None, description=reason))
        pinned = self.session.restore(self.session.keep_ref()) if crash is None else None
        where = f"; its edits kept at {pinned}" if pinned else ""
        self.report.say(f"agent attempt failed: {reason} (nothing run{where})")
        if crash is not None:
            self.return_to_keep()
        if self.failures_in_a_row >= self.rules.max_failures:
            raise AgentGaveUp(
                f"{self.failures_in_a_row} agent attempts in a row failed; last: {reason}"
            )

    # ----- what the agent gets ---------------------------------------------------------------

    def request(self, crash: Experiment | None, ledger: Ledger) -> AgentRequest:
        s = self.session
        description_path = Path(s.files.description)
        crash_row = ledger.row_for(crash.commit[:7]) if crash else None
        text = build_prompt(
            PromptInputs(
                program=self.program_text(),
                metric=s.settings.metric,
                direction=s.settings.direction,
                run_command=s.settings.run,
                budget=s.settings.budget,
                scope=self.scope_listing(),
                protected=list(s.settings.protect),
                ledger=ledger,
                keep_commit=s.keep_ref(),
                description_path=description_path,
                crash=crash_row,
                crash_tail=tuple(crash.tail) if crash else (),
            )
        )
        prompt_path = Path(s.files.prompts, f"{ledger.data_lines:04d}-{self.attempt}.md")
        write_text(prompt_path, text)
        write_text(s.files.last_prompt, text)
        return AgentRequest(
            prompt=text,
            prompt_path=prompt_path,
            workdir=Path(s.repo),
            scope_files=tuple(self.scope_files()),
            protected=tuple(s.settings.protect),
            description_path=description_path,
            fix_attempt=crash is not None,
        )

    def program_text(self) -> str | None:
        path = self.program or Path(self.session.repo, PROGRAM_FILE)
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None

    def scope_files(self) -> list[str]:
        scope = self.session.scope
        return [p for p in git.tracked_files(self.session.repo) if scope.allows(p)]

    def scope_listing(self) -> list[str]:
        globs = list(self.session.settings.scope)
        return globs or self.scope_files()

    def has_changes(self) -> bool:
        s = self.session
        tree = git.status(s.repo)
        in_scope_untracked = [p for p in tree.untracked if s.scope.allows(p)]
        return bool(tree.changed or in_scope_untracked or git.head(s.repo) != s.keep_ref())

    # ----- stop conditions and the terminal ---------------------------------------------------

    def stop_reason(self) -> str | None:
        rules, s = self.rules, self.session
        if self.too_many_crashes():
            self.report.failed = True
            return self.repeated_crash()
        done = self.experiments_counted()
        if rules.max_experiments is not None and done >= rules.max_experiments:
            return f"reached {rules.said('max_experiments', str(rules.max_experiments))}"
        hours = (time.monotonic() - self.started) / 3600
        if rules.max_hours is not None and hours >= rules.max_hours:
            return f"reached {rules.said('max_hours', f'{rules.max_hours:g}')}"
        ledger = s.read_ledger()
        best = s.best_value(ledger, s.keep_ref())
        if (
            rules.target is not None
            and best is not None
            and (best == rules.target or is_better(best, rules.target, s.settings.direction))
        ):
            return f"reached {rules.said('target', f'{rules.target:g}')} (best {best:g})"
        if rules.plateau is not None:
            streak = 0
            for row in reversed(ledger.rows):
                if row.status == KEEP:
                    break
                streak += 1
            if streak >= rules.plateau:
                return f"plateau: {streak} experiments in a row without a keep"
        if rules.max_cost is not None:
            spent = sum(ledger.run_number(r, "cost_usd") or 0.0 for r in ledger.rows)
            if spent >= rules.max_cost:
                said = rules.said("max_cost", f"{rules.max_cost:g}")
                return f"reached {said} USD (spent {spent:.2f})"
        return None

    def too_many_crashes(self) -> bool:
        limit = self.rules.max_crashes
        return limit > 0 and len(self.crashes) >= limit

    def repeated_crash(self) -> str:
        """The crashes that stop the loop, named by their reason and the log's last line."""
        causes = [crash_cause(e) for e in self.crashes]
        which = "each" if len(set(causes)) == 1 else "the last"
        return (
            f"{len(causes)} run crashes in a row "
            f"({self.rules.said('max_crashes', str(self.rules.max_crashes))}); "
            f"{which}: {causes[-1]}; log: {self.crashes[-1].log}"
        )

    def experiments_counted(self) -> int:
        """What --max-experiments counts: the experiments recorded."""
        return len(self.report.experiments)

    def return_to_keep(self) -> None:
        keep = self.session.keep_ref()
        if git.head(self.session.repo) != keep or not git.status(self.session.repo).clean:
            self.session.restore(keep)

    def outcome(self, experiment: Experiment) -> Outcome:
        return Outcome(
            experiment.commit, experiment.status, experiment.value, experiment.description
        )

    def verdict_line(self, experiment: Experiment, cost_usd: float | None = None) -> str:
        from autoresearch.reports.terminal import verdict_lines

        cost = f"  ${cost_usd:.2f}" if cost_usd else ""
        first = verdict_lines(experiment)[0]
        return f"[{experiment.number}] {first}{cost}  — {experiment.description}"

    def status_line(self, text: str) -> None:
        if self.report.progress is not None:
            self.report.progress.working(text)

    def run_watch(self, number: int, ledger: Ledger) -> Watch:
        """The live line of the experiment's runs: elapsed against the budget, the log's end."""
        progress = self.report.progress
        if progress is None:
            return UNWATCHED
        s = self.session
        best = s.best_value(ledger, s.keep_ref())
        best_text = f" (best {best:g})" if best is not None else ""
        label = f"experiment {number}{best_text}: running"
        return progress.watch(label, s.settings.budget, s.files.run_log, most_runs(s.settings))


def crash_cause(experiment: Experiment) -> str:
    """Why a run crashed, in a few words: the reason and what the run printed last."""
    last = experiment.tail[-1].strip() if experiment.tail else ""
    return f"{experiment.reason} · {last[:200]}" if last else experiment.reason


class AgentGaveUp(UserError):
    """The agent failed too many times in a row: stop instead of spinning."""

    exit_code = 1
