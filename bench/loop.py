"""The loop's own time per iteration, next to the engine's step alone, measured side by side.

With the `command` agent (a shell one-liner that edits one file) and a run that prints a
constant, everything the loop adds to an experiment is: building and saving the prompt,
checking the agent's diff, the verdict line, and the stop conditions. This prints that figure
(loop wall time minus the agent's and the run's own time) and the engine's step alone (what
`try` does in-process, minus the run).

Usage: python bench/loop.py [--experiments N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from scratch_repo import RUN, git, make_repo

from autoresearch.engine.session import Session
from autoresearch.engine.step import Attempt, try_candidate
from autoresearch.loop.agents import build_agent
from autoresearch.loop.agents.base import (
    Agent,
    AgentOptions,
    AgentRequest,
    AgentSetup,
    Outcome,
    Proposal,
)
from autoresearch.loop.driver import Loop, LoopReport, LoopSetup, StopRules
from autoresearch.rules.settings import validate

EDIT = 'echo "VALUE = $(date +%s%N)" > module.py && echo "new value" > "$AUTORESEARCH_DESCRIPTION"'


class TimedAgent:
    """Wraps an agent to measure the time spent inside it."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.name = agent.name if hasattr(agent, "name") else "timed"
        self.seconds = 0.0

    def propose(self, request: AgentRequest) -> Proposal:
        started = time.perf_counter()
        try:
            return self.agent.propose(request)
        finally:
            self.seconds += time.perf_counter() - started

    def observe(self, outcome: Outcome) -> None:
        self.agent.observe(outcome)


def start(repo: Path, tag: str) -> Session:
    git(repo, "checkout", "-q", "main")
    settings = validate(
        {"tag": tag, "run": RUN, "metric": "score", "scope": ["module.py"], "noise": "off"}
    )
    session = Session.start(repo, settings, None)
    with session.lock():
        try_candidate(session, Attempt("baseline"))
    return session


def loop_overhead(repo: Path, experiments: int) -> float:
    session = start(repo, "loop")
    setup = AgentSetup(
        options=AgentOptions(command=EDIT),
        repo=repo,
        state_dir=Path(session.files.dir),
        ledger_path=Path(session.files.ledger),
        metric="score",
        direction="minimize",
    )
    agent = TimedAgent(build_agent("command", setup))
    report = LoopReport(say=lambda _text: None)
    rules = StopRules(max_experiments=experiments)
    started = time.perf_counter()
    Loop(session, LoopSetup(agent, "command", rules), report).run()
    total = time.perf_counter() - started
    runs = sum(e.seconds for e in report.experiments)
    return (total - agent.seconds - runs) / len(report.experiments)


def engine_step(repo: Path, experiments: int) -> float:
    session = start(repo, "engine")
    times = []
    with session.lock():
        for step in range(experiments):
            (repo / "module.py").write_text(f"VALUE = {step + 1}\n")
            started = time.perf_counter()
            experiment = try_candidate(session, Attempt(f"step {step}"))
            times.append(time.perf_counter() - started - experiment.seconds)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        repo = make_repo(Path(root), 200)
        engine = engine_step(repo, args.experiments)
        loop = loop_overhead(repo, args.experiments)
    print(f"{args.experiments} experiments each; command agent; run {RUN!r}")
    print(f"engine step alone (in-process, minus the run):        {engine * 1000:7.1f} ms")
    print(
        f"loop's own time per iteration (minus agent and run):  {loop * 1000:7.1f} ms"
        f"   {loop / engine:4.2f}x the engine step"
    )


if __name__ == "__main__":
    main()
