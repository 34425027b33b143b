"""The loop with several experiments at once (``--workers N``) or with the next proposal made
while a run goes (``--pipeline``): the agent works in a checkout of its own at the keep ref,
so a free worker always finds a candidate ready.

The first Ctrl-C stops new proposals and lets the experiments in flight finish; the second
stops them all, each recorded as interrupted.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from types import FrameType

from autoresearch.engine import recovery
from autoresearch.engine.schedule import Planned, Scheduler
from autoresearch.engine.session import Session
from autoresearch.engine.step import Attempt
from autoresearch.engine.workers import WorkerPlan
from autoresearch.errors import UserError
from autoresearch.loop.agents.base import AgentError, AgentRequest, Proposal
from autoresearch.loop.driver import Loop, LoopReport, LoopSetup, StopRequest
from autoresearch.store import git, signals
from autoresearch.store.executors.worktree import WorktreeExecutor
from autoresearch.store.files import write_text

_WAIT_SECONDS = 0.5
_RECHECK_SECONDS = 5.0


class StopProposals(StopRequest):
    """First Ctrl-C: no new proposals. Second: stop every run, though never in the middle of
    recording an experiment (``signals.deferred`` holds it until the record is complete)."""

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.tell("no new proposals; the experiments in flight finish (Ctrl-C again to stop them)")


class ParallelLoop(Loop):
    def __init__(self, session: Session, setup: LoopSetup, report: LoopReport) -> None:
        super().__init__(session, setup, report)
        self.executor = None
        self.executors = list(setup.executors)
        self.plan = setup.plan or WorkerPlan(tuple(() for _ in self.executors))
        agent = setup.agent
        self.proposals: dict[str, Proposal] = {}
        self.scheduler: Scheduler | None = None
        if hasattr(agent, "in_flight"):
            agent.in_flight = len(self.executors) + 1  # the tuner: several trials asked at once
        self.waiting: deque[Planned] = deque()  # carried onto a newer keep ref: run first
        self.ready: Planned | None = None  # the agent's next candidate, committed
        self.accepting = True  # False once a stop condition or Ctrl-C stops new experiments
        self.stop = StopProposals(report.say)
        self._checked: tuple[int, int] | None = None
        self._checked_at = 0.0
        self._reason: str | None = None

    def run(self) -> LoopReport:
        session = self.session
        report = self.report
        tell = report.progress.note if report.progress is not None else report.say
        with session.lock(), StopProposals(tell) as stop:
            self.stop = stop
            for message in recovery.recover(session):
                self.report.say(f"recovered: {message}")
            self.return_to_keep()
            scheduler = Scheduler(session, self.executors, self.plan.device_sets)
            self.scheduler = scheduler
            place = os.path.join(session.files.worktrees, "agent")
            workspace = WorktreeExecutor(session.repo, place, self.plan.links)
            try:
                while True:
                    self.collect(block=False)
                    reason = "stopped at your request (Ctrl-C)" if stop.requested else None
                    reason = reason or self.stop_reason()
                    if reason and self.ready is not None:
                        self.set_aside(self.ready)
                        self.ready = None
                    self.accepting = not reason
                    if reason and not scheduler.running and not self.waiting:
                        self.report.stop_reason = reason
                        break
                    if self.waiting and scheduler.free_workers:
                        scheduler.start(self.waiting.popleft())
                    elif self.ready is not None and scheduler.free_workers:
                        scheduler.start(self.ready)
                        self.ready = None
                    elif self.ready is None and not reason:
                        self.ready = self.prepare(workspace)
                    else:
                        self.collect(block=True)
            except KeyboardInterrupt:
                scheduler.stop_all()
                self.report.stop_reason = "stopped now at your request (second Ctrl-C)"
            finally:
                self.finish(scheduler)
                workspace.close()
        return self.report

    def finish(self, scheduler: Scheduler) -> None:
        """Record every experiment still in flight (stopped when a stop was asked for)."""
        self.accepting = False
        if self.ready is not None:
            self.set_aside(self.ready)
            self.ready = None
        while scheduler.running:
            try:
                self.collect(block=True)
            except KeyboardInterrupt:
                scheduler.stop_all()
        scheduler.join()
        scheduler.close()
        self.return_to_keep()

    def set_aside(self, planned: Planned) -> None:
        """A candidate prepared but never run stays reachable under an ``abandoned`` ref."""
        ref = self.session.abandoned_ref(planned.commit)
        self.report.say(f"not run: {planned.description} (kept at {ref})")

    # ----- proposals ----------------------------------------------------------------------------

    def prepare(self, workspace: WorktreeExecutor) -> Planned | None:
        """Ask the agent for a candidate in its own checkout of the keep ref, and commit it."""
        assert self.scheduler is not None
        self.attempt += 1
        keep = self.session.keep_ref()
        workspace.checkout(keep)
        ledger = self.session.read_ledger()
        self.status_line(f"asking for an idea ({self.agent_name}); {self.busy_text()}")
        try:
            request = self.in_flight_request(self.request(None, ledger), workspace.place)
            proposal = self.bring_back(self.agent.propose(request), workspace.place)
            attempt = Attempt(proposal.description, proposal.tokens, proposal.cost_usd)
            planned = self.scheduler.commit_candidate(workspace.place, keep, attempt)
        except (AgentError, UserError) as failure:
            kept = self.keep_attempt(workspace.place, keep)
            self.failed(f"{failure}{f'; its edits kept at {kept}' if kept else ''}", None)
            return None
        self.failures_in_a_row = 0
        self.proposals[planned.commit] = proposal
        return planned

    def keep_attempt(self, workspace: str, keep: str) -> str | None:
        """A failed attempt's edits (or commits), pinned under an ``abandoned`` ref before its
        checkout is cleaned for the next proposal."""
        commit = git.snapshot_uncommitted(workspace) or git.head(workspace)
        return self.session.abandoned_ref(commit) if commit and commit != keep else None

    def in_flight_request(self, request: AgentRequest, workdir: str) -> AgentRequest:
        """The request for the agent's own checkout; the prompt names what is still running."""
        assert self.scheduler is not None
        running = [r.planned for r in self.scheduler.running.values()] + list(self.waiting)
        note = [
            "## Experiments in flight",
            "",
            "You work in a checkout of your own at the keep ref while other experiments run. "
            "Their results are not known yet: propose something that does not repeat them.",
        ]
        note += [f"- {p.commit[:7]} {p.description}" for p in running] or ["- (none)"]
        prompt = request.prompt + "\n\n" + "\n".join(note) + "\n"
        # Written once already, durably: this adds the note (a crash may lose only the note).
        write_text(request.prompt_path, prompt, durable=False)
        write_text(self.session.files.last_prompt, prompt, durable=False)
        return request._replace(prompt=prompt, workdir=Path(workdir))

    def has_changes(self) -> bool:
        return True  # the scheduler refuses an empty candidate itself

    # ----- results ------------------------------------------------------------------------------

    def collect(self, block: bool) -> None:
        """Record the next finished experiment (waiting a little for one when ``block``)."""
        assert self.scheduler is not None
        done = self.scheduler.wait(_WAIT_SECONDS if block else 0)
        if done is None:
            return
        running, measured = done
        self.scheduler.release(running)
        # A stop asked for since the main loop last looked (Ctrl-C while it waited here) holds
        # the next candidate back too.
        accepting = self.accepting and not self.stop.requested
        if self.ready is not None and accepting and not self.waiting:
            # The freed worker goes on at once; the bookkeeping of what it ran follows.
            self.scheduler.start(self.ready)
            self.ready = None
        with signals.deferred():  # a second Ctrl-C, or SIGTERM, waits for the books
            settled = self.scheduler.settle(running, measured)
        experiment = settled.experiment
        self.report.experiments.append(experiment)
        proposal = self.proposals.pop(experiment.commit, None)
        self.track(experiment, proposal.details if proposal is not None else None)
        self.agent.observe(self.outcome(experiment))
        cost = proposal.cost_usd if proposal is not None else None
        self.report.say(self.verdict_line(experiment, cost))
        if settled.requeued is not None:
            self.waiting.append(settled.requeued)

    def stop_reason(self) -> str | None:
        """Checked again once something changed, or every few seconds (for --max-hours)."""
        key = (self.experiments_counted(), len(self.report.experiments))
        if key != self._checked or time.monotonic() - self._checked_at > _RECHECK_SECONDS:
            self._reason = super().stop_reason()
            self._checked, self._checked_at = key, time.monotonic()
        return self._reason

    def experiments_counted(self) -> int:
        running = len(self.scheduler.running) if self.scheduler else 0
        return len(self.report.experiments) + running + len(self.waiting)

    def busy_text(self) -> str:
        assert self.scheduler is not None
        return f"{len(self.scheduler.running)}/{len(self.executors)} workers busy"
