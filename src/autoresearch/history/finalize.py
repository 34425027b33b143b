"""Turning a session into something reviewable: a branch holding only the kept changes.

The session branch carries everything on the way to the keep ref, crashed candidates and their
fixes included. The final branch starts from the session's starting point and holds one commit
per kept change whose tree is exactly that keep's tree, so a crash and its fix read as the one
change that was kept; or one squashed commit. The commits are made with plumbing, so the session
branch, HEAD, the working tree and every other branch stay as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from autoresearch.engine import record
from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.errors import UserError
from autoresearch.history.lineage import KeptStep, final_chain, kept_steps, start_commit
from autoresearch.reports.audit_note import audit_line, headline_verdict, latest_audit
from autoresearch.reports.summary import summarize
from autoresearch.rules import formatting, verdict
from autoresearch.store import git
from autoresearch.store.files import write_text
from autoresearch.store.ledger import Ledger, sanitize


class FinalPlan(NamedTuple):
    branch: str
    start: str
    keep: str
    steps: list[KeptStep]
    metric: str

    @property
    def baseline(self) -> float:
        first = self.steps[0]
        return first.value if first.before is None else first.before

    @property
    def best(self) -> float:
        return self.steps[-1].value

    def headline(self, audited: str | None = None) -> str:
        """The ledger's change; with ``audited``, the verdict of an audit of the keep ref."""
        count = len(self.steps)
        changes = "change" if count == 1 else "changes"
        claim = f"{gain_text(self.metric, self.baseline, self.best)} in {count} kept {changes}"
        return claim if audited is None else f"{claim}; audit: {audited}"


class FinalResult(NamedTuple):
    plan: FinalPlan
    commits: list[str]
    squash: bool
    summary_path: Path
    summary: str
    headline: str


def final_branch(session: Session) -> str:
    return f"{BRANCH_PREFIX}{session.tag}-final"


def change_text(before: float | None, after: float) -> str:
    return "" if before is None else formatting.percent(verdict.change_percent(after, before))


def gain_text(metric: str, before: float | None, after: float) -> str:
    if before is None:
        return f"{metric} {formatting.value(after)} (first measurement)"
    change = change_text(before, after)
    return f"{metric} {formatting.value(before)} -> {formatting.value(after)} ({change})"


def plan_final(session: Session) -> tuple[FinalPlan, Ledger]:
    """What the final branch will hold; refuses when there is nothing beyond the baseline."""
    # The keep ref first: it moves only once its ledger row is on disk, so the ledger read
    # after it always has the row, even while a loop is running.
    keep = session.keep_ref()
    ledger = session.read_ledger()
    start = start_commit(session)
    chain = final_chain(session, kept_steps(session, ledger), keep)
    if keep == start or not chain:
        raise UserError("nothing to finalize: no change was kept beyond the baseline")
    if chain[-1].commit != keep:
        raise UserError(f"the keep ref {keep[:7]} is not a kept commit of the ledger")
    record.require_measured(session, [step.commit for step in chain])
    plan = FinalPlan(final_branch(session), start, keep, chain, session.settings.metric)
    return plan, ledger


def refuse_existing_branch(session: Session, plan: FinalPlan) -> None:
    existing = git.resolve(session.repo, f"refs/heads/{plan.branch}")
    if existing is None:
        return
    again = f"`git branch -D {plan.branch}` and finalize again"
    if git.tree_of(session.repo, existing) == git.tree_of(session.repo, plan.keep):
        raise UserError(
            f"{plan.branch} already exists and is up to date with the keep ref "
            f"{plan.keep[:7]}; to build it anew: {again}"
        )
    raise UserError(
        f"{plan.branch} already exists from an earlier finalize and the keep ref has moved "
        f"since; {again}"
    )


def step_message(session: Session, step: KeptStep) -> str:
    description = sanitize(step.row.description) or "(no description)"
    return (
        f"{description}\n\n{gain_text(session.settings.metric, step.before, step.value)}\n"
        f"Kept in autoresearch session {session.tag} as {step.commit[:7]}.\n"
    )


def squash_message(session: Session, plan: FinalPlan) -> str:
    lines = [f"autoresearch {session.tag}: {plan.headline()}", ""]
    for step in plan.steps:
        gain = gain_text(plan.metric, step.before, step.value)
        lines.append(f"- {sanitize(step.row.description)} ({gain})")
    return "\n".join(lines) + "\n"


def finalize(session: Session, squash: bool) -> FinalResult:
    plan, ledger = plan_final(session)
    refuse_existing_branch(session, plan)
    repo, identity = session.repo, session.meta.identity
    commits: list[str] = []
    if squash:
        message = squash_message(session, plan)
        tree = git.tree_of(repo, plan.keep)
        commits.append(git.commit_tree(repo, tree, plan.start, message, identity))
    else:
        parent = plan.start
        for step in plan.steps:
            tree = git.tree_of(repo, step.commit)
            parent = git.commit_tree(repo, tree, parent, step_message(session, step), identity)
            commits.append(parent)
    git.create_branch_at(repo, plan.branch, commits[-1])
    headline = plan.headline(headline_verdict(session.files, plan.keep))
    summary = summary_markdown(session, plan, ledger, commits, squash, headline)
    path = Path(session.files.final_summary)
    write_text(path, summary)
    return FinalResult(plan, commits, squash, path, summary, headline)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def summary_markdown(
    session: Session,
    plan: FinalPlan,
    ledger: Ledger,
    commits: list[str],
    squash: bool,
    headline: str,
) -> str:
    """The pull request's text: the headline, how it was measured, the kept changes."""
    settings, metric = session.settings, plan.metric
    counts = summarize(ledger, settings.direction).counts_text()
    shape = (
        "one squashed commit"
        if squash
        else f"{formatting.plural(len(commits), 'commit')}, one per kept change, "
        "each with the tree that was measured"
    )
    lines = [f"## autoresearch {session.tag}: {headline}", ""]
    # Right under the headline: the headline is the ledger's claim, the audit says if it held.
    audit = latest_audit(session.files, plan.keep)
    if audit is not None:
        lines += [audit_line(audit), ""]
    lines += [
        f"Goal: {settings.direction} `{metric}` as printed by `{settings.run}`. {counts}.",
        "",
        f"Branch `{plan.branch}`: {shape}, on top of `{plan.start[:7]}`.",
        "",
        f"| # | commit | {metric} | change | description |",
        "|---:|---|---:|---:|---|",
    ]
    for number, step in enumerate(plan.steps, start=1):
        commit = step.commit if squash else commits[number - 1]
        lines.append(
            f"| {number} | `{commit[:7]}` | {formatting.value(step.value)} "
            f"| {change_text(step.before, step.value)} "
            f"| {_cell(step.row.description)} |"
        )
    return "\n".join(lines) + "\n"
