from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from support import (
    FOREVER,
    Cli,
    git,
    ledger_lines,
    session_flags,
    stand_in_agent,
    stand_in_command,
    wait_for_run,
    write_train,
)

from autoresearch.store import sandbox


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    return tmp_path / "agent"


def plan(agent_dir: Path, steps: list[dict[str, object]]) -> str:
    return stand_in_agent(agent_dir, steps)


def loop(cli: Cli, agent_dir: Path, *extra: str):
    return cli("loop", "--agent", "command", "--agent-cmd", stand_in_command(agent_dir), *extra)


@pytest.fixture
def session(cli: Cli) -> Cli:
    assert cli.init().returncode == 0
    return cli


def statuses(repo: Path) -> list[str]:
    return [row[-2] for row in ledger_lines(repo)[1:]]


def test_loop_runs_the_agent_once_per_experiment(repo: Path, session: Cli, agent_dir) -> None:
    plan(agent_dir, [{"VALUE": 0.9}, {"VALUE": 1.2}, {"VALUE": 0.8}])
    (repo / "program.md").write_text("Try lowering VALUE.\n")
    result = loop(session, agent_dir, "--max-experiments", "3")
    assert result.returncode == 0, result.stderr
    assert statuses(repo) == ["keep", "keep", "discard", "keep"]
    assert [r[-1] for r in ledger_lines(repo)[2:]] == [
        "set VALUE to 0.9",
        "set VALUE to 1.2",
        "set VALUE to 0.8",
    ]
    assert "reached --max-experiments 3" in result.stdout
    assert "\r" not in result.stdout and "\x1b" not in result.stdout  # no live line in a pipe
    assert "VALUE = 0.8" in (repo / "train.py").read_text()
    assert git(repo, "status", "--porcelain") == "?? program.md"
    first, third = (agent_dir / "prompt-0.md").read_text(), (agent_dir / "prompt-2.md").read_text()
    assert "Try lowering VALUE." in first and "Change only these files: train.py" in first
    assert "prepare.py" in first and "best so far 1.000000" in first
    assert "set VALUE to 1.2 (discard)" in third  # ideas already tried are listed
    saved = sorted((repo / ".autoresearch/t/prompts").iterdir())
    assert len(saved) == 3 and saved[0].read_text() == first


def test_a_crash_gets_fix_attempts_on_top_of_the_candidate(
    repo: Path, session: Cli, agent_dir: Path
) -> None:
    plan(
        agent_dir,
        [
            {"VALUE": 0.7, "EXIT": 1, "say": "bold idea"},
            {"VALUE": 0.7, "EXIT": 0, "say": "bold idea, fixed"},
        ],
    )
    result = loop(session, agent_dir, "--max-experiments", "2")
    assert statuses(repo) == ["keep", "crash", "keep"]
    fix_prompt = (agent_dir / "prompt-1.md").read_text()
    assert "fix a crash" in fix_prompt and "val_bpb: 0.700000" in fix_prompt
    assert ledger_lines(repo)[-1][-1].startswith("bold idea, fixed (fix of ")
    assert git(repo, "rev-parse", "HEAD~1") == git(repo, "rev-parse", "refs/autoresearch/t/exp/1")
    assert result.returncode == 0


def test_after_the_fix_attempts_the_idea_is_dropped_and_the_tree_reset(
    repo: Path, session: Cli, agent_dir: Path
) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    plan(agent_dir, [{"VALUE": 0.5, "EXIT": 3}])
    loop(session, agent_dir, "--max-experiments", "3", "--max-fix-attempts", "2")
    assert statuses(repo) == ["keep", "crash", "crash", "crash"]
    assert git(repo, "rev-parse", "HEAD") == keep
    assert git(repo, "status", "--porcelain") == ""


def test_a_failing_agent_stops_the_loop_instead_of_spinning(
    repo: Path, session: Cli, agent_dir: Path
) -> None:
    plan(agent_dir, [{"agent_exit": 4}])
    result = loop(session, agent_dir, "--max-failures", "3")
    assert result.returncode == 1
    assert "3 agent attempts in a row failed" in result.stderr
    assert "command exited 4" in result.stdout and "agent is broken" in result.stdout
    assert statuses(repo) == ["keep"]


def test_repeated_run_crashes_stop_the_loop_naming_the_error(
    repo: Path, session: Cli, agent_dir: Path
) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    plan(agent_dir, [{"VALUE": 0.5, "prepend": "import missing_module_xyz\n"}])
    result = loop(session, agent_dir, "--max-crashes", "3", "--max-fix-attempts", "1")
    assert result.returncode == 1
    assert statuses(repo) == ["keep", "crash", "crash", "crash"]  # an idea, its fix, an idea
    assert (
        "stopped: 3 run crashes in a row (--max-crashes 3); each: exit 1 · "
        "ModuleNotFoundError: No module named 'missing_module_xyz'"
    ) in result.stdout
    assert git(repo, "rev-parse", "HEAD") == keep
    (agent_dir / "calls").unlink()
    (repo / "autoresearch.toml").write_text("max_crashes = 1\n")  # the settings key
    result = loop(session, agent_dir, "--max-fix-attempts", "0")
    assert result.returncode == 1 and statuses(repo)[-1] == "crash"
    # The stop names the limit where the user set it: here the settings file, not a flag.
    assert "(max_crashes = 1 in autoresearch.toml)" in result.stdout
    (agent_dir / "calls").unlink()
    plan(agent_dir, [{"VALUE": 0.5, "prepend": "import missing_module_xyz\n"}, {"VALUE": 0.4}])
    result = loop(
        session,
        agent_dir,
        "--max-crashes",
        "0",
        "--max-fix-attempts",
        "0",
        "--max-experiments",
        "2",
    )
    assert result.returncode == 0 and statuses(repo)[-2:] == ["crash", "keep"]


@pytest.mark.parametrize("mode", ["on", "off"])
def test_no_change_and_out_of_scope_edits_are_failed_attempts(
    repo: Path, cli: Cli, agent_dir: Path, mode: str
) -> None:
    if mode == "on" and sandbox.unavailable():
        pytest.skip(f"no sandbox here: {sandbox.unavailable()}")
    session = cli
    assert cli.init("--sandbox", mode).returncode == 0
    plan(agent_dir, [{"nothing": True}, {"file": "prepare.py"}, {"VALUE": 0.5}])
    result = loop(session, agent_dir, "--max-experiments", "1")
    assert "the agent made no change" in result.stdout
    if mode == "on":  # the agent cannot write it at all
        assert "Read-only file system: 'prepare.py'" in result.stdout
    else:  # it can, and the edit is refused
        assert "protected file(s): prepare.py" in result.stdout
        assert "its edits kept at refs/autoresearch/t/abandoned/1" in result.stdout
    assert (repo / "prepare.py").read_text() == "DATA = 'fixed'\n"
    assert statuses(repo) == ["keep", "keep"]


def test_stop_conditions_target_and_plateau(repo: Path, session: Cli, agent_dir: Path) -> None:
    plan(agent_dir, [{"VALUE": 0.9}, {"VALUE": 0.4}, {"VALUE": 0.3}])
    result = loop(session, agent_dir, "--target", "0.5")
    assert "reached --target 0.5" in result.stdout
    assert statuses(repo) == ["keep", "keep", "keep"]
    plan(agent_dir, [{"VALUE": 2.0}])
    result = loop(session, agent_dir, "--plateau", "2")
    assert "plateau: 2 experiments in a row without a keep" in result.stdout
    assert statuses(repo)[-2:] == ["discard", "discard"]


def test_bad_loop_options_are_refused_before_anything_runs(repo: Path, cli: Cli, agent_dir):
    result = loop(cli, agent_dir, "--max-experiments", "none")
    assert result.returncode == 2 and "max-experiments must be a number" in result.stderr
    assert not (repo / ".autoresearch").exists()


def test_loop_starts_a_session_itself_and_try_continues_it(
    repo: Path, cli: Cli, agent_dir: Path
) -> None:
    command = plan(agent_dir, [{"VALUE": 0.9}])
    flags = session_flags("fresh", protect=())
    result = cli(
        "loop", *flags, "--agent", "command", "--agent-cmd", command, "--max-experiments", "1"
    )
    assert result.returncode == 0, result.stderr
    assert git(repo, "branch", "--show-current") == "autoresearch/fresh"
    write_train(repo, 0.1)
    assert cli("try", "-m", "by hand").stdout.startswith("keep")
    plan(agent_dir, [{"VALUE": 0.05}])
    assert loop(cli, agent_dir, "--max-experiments", "1").returncode == 0
    assert statuses(repo) == ["keep", "keep", "keep", "keep"]


def test_no_agent_available_lists_the_choices(repo: Path, session: Cli) -> None:
    env_path = os.environ.get("PATH", "")
    result = session("loop")
    if any(Path(p, n).exists() for p in env_path.split(":") for n in ("claude", "codex", "aider")):
        pytest.skip("an agent CLI is installed on this machine")
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        pytest.skip("an OpenAI endpoint is configured in this environment")
    assert result.returncode == 2
    assert "no agent available" in result.stderr and "tune" in result.stderr


def test_first_ctrl_c_finishes_the_experiment_then_stops(
    repo: Path, session: Cli, agent_dir: Path
) -> None:
    go = agent_dir / "go"
    command = plan(agent_dir, [{"VALUE": 0.5, "GO": str(go)}])
    process = session.popen("loop", "--agent", "command", "--agent-cmd", command)
    wait_for_run(repo, process)
    process.send_signal(signal.SIGINT)
    process.read_until("Ctrl-C again")
    go.touch()  # the run ends only now, so the Ctrl-C came while it went
    out, _ = process.communicate()
    assert process.returncode == 0
    assert "stopping after this experiment (Ctrl-C again to stop now)" in out
    assert "stopped at your request" in out
    assert statuses(repo) == ["keep", "keep"]
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    "signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,)], ids=["ctrl-c twice", "sigterm"]
)
def test_a_second_ctrl_c_or_a_sigterm_kills_the_run_and_restores_the_keep_ref(
    repo: Path, session: Cli, agent_dir: Path, signals: tuple[signal.Signals, ...]
) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    command = plan(agent_dir, [{"VALUE": 0.5, "SLEEP": FOREVER, "say": "waits"}])
    process = session.popen("loop", "--agent", "command", "--agent-cmd", command)
    wait_for_run(repo, process)
    first, *more = signals
    process.send_signal(first)
    for sent in more:
        process.read_until("Ctrl-C again")  # two signals at once would be taken as one
        process.send_signal(sent)
    out, _ = process.communicate()
    assert "stopped now at your request" in out
    assert "[1] crash " in out and "interrupted" in out  # its verdict line, as any other
    assert statuses(repo) == ["keep", "crash"]
    assert ledger_lines(repo)[-1][-1] == "waits"
    assert git(repo, "rev-parse", "HEAD") == keep


def test_loop_resumes_after_being_killed(repo: Path, session: Cli, agent_dir: Path) -> None:
    command = plan(agent_dir, [{"VALUE": 0.5, "SLEEP": FOREVER}, {"VALUE": 0.6}])
    process = session.popen("loop", "--agent", "command", "--agent-cmd", command)
    wait_for_run(repo, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    result = loop(session, agent_dir, "--max-experiments", "1")
    assert "was interrupted: recorded as crash" in result.stdout
    assert statuses(repo) == ["keep", "crash", "keep"]


def test_a_knob_error_is_reported_before_anything_runs(repo: Path, cli: Cli) -> None:
    (repo / "autoresearch.toml").write_text(
        f'run = "{sys.executable} train.py"\nmetric = "val_bpb"\n'
        '[[knob]]\nfile = "train.py"\nname = "MISSING_KNOB"\nlow = 0.1\nhigh = 1.0\n'
    )
    git(repo, "add", "autoresearch.toml")
    git(repo, "commit", "-qm", "knobs")
    result = cli("loop", "--agent", "tune", "--max-experiments", "1")
    assert result.returncode == 2 and "MISSING_KNOB" in result.stderr
    assert git(repo, "branch", "--show-current") == "main"
    assert not (repo / "results.tsv").exists()


def test_max_cost_and_max_hours_stop_the_loop(repo: Path, session: Cli) -> None:
    from autoresearch.engine.session import Session
    from autoresearch.engine.step import Attempt, try_candidate
    from autoresearch.loop.agents.base import Agent
    from autoresearch.loop.driver import Loop, LoopReport, LoopSetup, StopRules

    opened = Session.open(repo)
    with opened.lock():
        for value, cost in ((0.9, 0.6), (0.8, 0.5)):
            write_train(repo, value)
            try_candidate(opened, Attempt(f"paid idea {value}", 1000, cost))
    assert [r[-3] for r in ledger_lines(repo)[2:]] == ["0.600000", "0.500000"]  # cost_usd

    def stop(rules: StopRules) -> str | None:
        agent: Agent = None  # type: ignore[assignment]  # stop conditions never call it
        setup = LoopSetup(agent, "none", rules)
        return Loop(opened, setup, LoopReport(say=print)).stop_reason()

    assert stop(StopRules(max_cost=1.0)) == "reached --max-cost 1 USD (spent 1.10)"
    assert stop(StopRules(max_cost=5.0)) is None
    assert stop(StopRules(max_hours=0.0)) == "reached --max-hours 0"
