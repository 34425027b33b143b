from __future__ import annotations

import subprocess
from pathlib import Path

import optuna
import pytest

from autoresearch.errors import UserError
from autoresearch.loop.agents.base import AgentOptions, AgentRequest, AgentSetup, Outcome
from autoresearch.loop.agents.knobs import parse_knobs, read_values
from autoresearch.loop.agents.tune import TuneAgent
from autoresearch.store.ledger import append_row, create_ledger

PARAMS = 'RATE = 0.5\nWIDTH = 16\nMODE = "a"\nprint(RATE, WIDTH, MODE)\n'
KNOBS = (
    {"file": "params.py", "name": "RATE", "low": 0.01, "high": 1.0, "log": True},
    {"file": "params.py", "name": "WIDTH", "low": 4, "high": 64},
    {"file": "params.py", "name": "MODE", "choices": ["a", "b", "c"]},
)
State = optuna.trial.TrialState


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    (path / "params.py").write_text(PARAMS)
    git(path, "init", "-q")
    git(path, "add", "params.py")
    git(path, "commit", "-qm", "start")
    return path


def make_agent(repo: Path, seed: int | None = 7, **changes: object) -> TuneAgent:
    fields: dict[str, object] = {
        "options": AgentOptions(),
        "repo": repo,
        "state_dir": repo.parent / "state",
        "ledger_path": repo.parent / "results.tsv",
        "metric": "loss",
        "direction": "minimize",
        "knobs": KNOBS,
        "seed": seed,
        **changes,
    }
    return TuneAgent(AgentSetup(**fields))  # type: ignore[arg-type]


def request(repo: Path) -> AgentRequest:
    return AgentRequest(
        prompt="", prompt_path=repo.parent / "prompt.md", workdir=repo, scope_files=("params.py",)
    )


def current(repo: Path) -> dict[str, object]:
    return read_values(parse_knobs(KNOBS, repo), repo)


def write_ledger(repo: Path, rows: list[tuple[str, float, str]]) -> None:
    path = repo.parent / "results.tsv"
    create_ledger(path, ["commit", "loss", "status", "description"])
    for commit, value, status in rows:
        append_row(path, {"commit": commit, "loss": value, "status": status})


def test_propose_rewrites_the_literals_and_describes_the_change(repo: Path) -> None:
    agent = make_agent(repo)
    before = current(repo)
    proposal = agent.propose(request(repo))
    after = current(repo)
    assert after != before
    changed = [name for name in before if before[name] != after[name]]
    assert proposal.description.startswith(changed[0])
    assert proposal.details["knobs"] == after  # what a tracker records as the run's parameters
    source = (repo / "params.py").read_text()
    assert source.endswith("print(RATE, WIDTH, MODE)\n") and source.count("\n") == 4


def test_observe_tells_the_study_the_value(repo: Path) -> None:
    agent = make_agent(repo)
    agent.propose(request(repo))
    agent.observe(Outcome("abc1234", "discard", 0.25, "x"))
    (trial,) = agent.study.trials
    assert trial.state == State.COMPLETE and trial.value == 0.25
    assert trial.params == current(repo)
    assert trial.user_attrs == {"commit": "abc1234", "verdict": "discard"}


def test_a_crash_is_told_as_failed_and_shown_to_the_sampler_as_pruned(repo: Path) -> None:
    agent = make_agent(repo)
    agent.propose(request(repo))
    agent.observe(Outcome("abc1234", "crash", None, "x"))
    (trial,) = agent.study.trials
    assert trial.state == State.FAIL and trial.user_attrs["verdict"] == "crash"
    shown = agent._sampling_study().trials
    assert [t.state for t in shown] == [State.PRUNED]


def test_a_proposal_never_run_is_failed_at_the_next_proposal(repo: Path) -> None:
    agent = make_agent(repo)
    agent.propose(request(repo))
    agent.propose(request(repo))
    first, second = agent.study.trials
    assert first.state == State.FAIL and first.user_attrs["verdict"] == "not run"
    assert second.state == State.RUNNING
    assert agent._sampling_study().trials == []


def test_a_new_agent_on_the_same_state_continues_the_study(repo: Path) -> None:
    agent = make_agent(repo)
    for number in range(3):
        agent.propose(request(repo))
        agent.observe(Outcome(f"c{number}", "discard", 1.0 + number, "x"))
    agent.propose(request(repo))  # left unanswered, as when a session is killed
    resumed = make_agent(repo)
    states = [trial.state for trial in resumed.study.trials]
    assert states == [State.COMPLETE] * 3 + [State.FAIL]
    resumed.propose(request(repo))
    resumed.observe(Outcome("c4", "keep", 0.5, "x"))
    assert len(resumed.study.trials) == 5 and resumed.study.best_value == 0.5


def test_the_same_seed_proposes_the_same_values(repo: Path, tmp_path: Path) -> None:
    first = make_agent(repo, seed=3)
    first.propose(request(repo))
    proposed = current(repo)
    (repo / "params.py").write_text(PARAMS)
    second = make_agent(repo, seed=3, state_dir=tmp_path / "other-state")
    second.propose(request(repo))
    assert current(repo) == proposed


def test_warm_start_learns_the_ledger_rows_from_their_commits(repo: Path) -> None:
    baseline = git(repo, "rev-parse", "HEAD").strip()
    (repo / "params.py").write_text(PARAMS.replace("RATE = 0.5", "RATE = 0.1"))
    git(repo, "commit", "-qam", "try a lower rate")
    tried = git(repo, "rev-parse", "--short", "HEAD").strip()
    git(repo, "reset", "-q", "--hard", baseline)
    write_ledger(repo, [(baseline[:7], 2.0, "keep"), (tried, 3.0, "discard")])
    agent = make_agent(repo)
    agent.propose(request(repo))
    learned = agent.study.trials[:2]
    assert [(t.params["RATE"], t.value, t.user_attrs["commit"]) for t in learned] == [
        (0.5, 2.0, baseline[:7]),
        (0.1, 3.0, tried),
    ]


def test_warm_start_records_the_current_values_when_commits_are_unknown(repo: Path) -> None:
    write_ledger(repo, [("baseline", 2.0, "keep"), ("0000000", 1.5, "keep")])
    agent = make_agent(repo)
    agent.propose(request(repo))
    first = agent.study.trials[0]
    assert first.params == {"RATE": 0.5, "WIDTH": 16, "MODE": "a"} and first.value == 1.5


def test_needs_knobs(repo: Path) -> None:
    with pytest.raises(UserError, match="nothing to tune"):
        make_agent(repo, knobs=())


def test_refuses_a_study_made_for_the_other_direction(repo: Path) -> None:
    make_agent(repo)
    with pytest.raises(UserError, match="minimize, not maximize"):
        make_agent(repo, direction="maximize")


def test_several_trials_in_flight_each_get_their_own_verdict(repo: Path) -> None:
    # As in a loop with two workers: two proposals, each committed, verdicts in reverse order.
    agent = make_agent(repo)
    agent.in_flight = 3
    commits = []
    for _ in range(2):
        agent.propose(request(repo))
        git(repo, "commit", "-qam", "trial")
        commits.append(git(repo, "rev-parse", "HEAD").strip())
    first, second = commits
    agent.observe(Outcome(commit=second, status="keep", value=0.2, description=""))
    agent.observe(Outcome(commit=first, status="discard", value=0.9, description=""))
    told = {
        t.user_attrs["commit"]: t.value for t in agent.study.get_trials(states=(State.COMPLETE,))
    }
    assert told == {second: 0.2, first: 0.9}
    assert not [t for t in agent.study.trials if t.user_attrs.get("verdict") == "not run"]
