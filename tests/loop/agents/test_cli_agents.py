"""The agents that run an external program, against stand-ins that behave like the real CLIs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from support import EVENT_DEADLINE, process_gone, wait_for

from autoresearch.errors import UserError
from autoresearch.loop.agents import build_agent
from autoresearch.loop.agents.aider import AiderAgent, first_reply_line, parse_usage
from autoresearch.loop.agents.base import AgentError, AgentOptions, AgentRequest, AgentSetup
from autoresearch.loop.agents.claude import ClaudeAgent, parse_result
from autoresearch.loop.agents.codex import CodexAgent, summarize_events
from autoresearch.loop.agents.command import CommandAgent

STAND_IN = Path(__file__).with_name("cli_stand_in.py")


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bin folder first on PATH holding stand-ins for claude, codex and aider."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("claude", "codex", "aider"):
        script = folder / name
        script.write_text(f"#!{sys.executable}\n{STAND_IN.read_text()}")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("STAND_IN_RECORD", str(tmp_path / "record.json"))
    monkeypatch.delenv("STAND_IN_MODE", raising=False)
    return folder


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text("lr = 0.01\n")
    return repo


def make_setup(workdir: Path, **options: object) -> AgentSetup:
    return AgentSetup(
        options=AgentOptions(**{"timeout": 20.0, **options}),  # type: ignore[arg-type]
        repo=workdir,
        state_dir=workdir / ".autoresearch",
        ledger_path=workdir / "results.tsv",
        metric="loss",
        direction="min",
    )


def make_request(workdir: Path, prompt: str = "Lower the loss.") -> AgentRequest:
    return AgentRequest(
        prompt=prompt,
        prompt_path=workdir / ".autoresearch" / "prompt.md",
        workdir=workdir,
        scope_files=("train.py", "model.py"),
    )


def recorded(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "record.json").read_text())


# Claude Code


def test_claude_command_line_has_the_documented_flags(workdir: Path) -> None:
    agent = ClaudeAgent(make_setup(workdir, model="sonnet", extra_args=("--max-turns", "30")))
    argv = agent.command_line(make_request(workdir))
    assert argv[:2] == ["claude", "-p"]
    assert argv[2].startswith("Lower the loss.")
    assert str(workdir / ".autoresearch" / "agent" / "description.txt") in argv[2]
    assert argv[3:] == [
        "--output-format", "json", "--permission-mode", "acceptEdits",
        "--model", "sonnet", "--max-turns", "30",
    ]  # fmt: skip


def test_claude_edits_and_reports_description_cost_and_tokens(
    fake_bin: Path, workdir: Path, tmp_path: Path
) -> None:
    agent = ClaudeAgent(make_setup(workdir))
    request = make_request(workdir)
    proposal = agent.propose(request)

    assert (workdir / "train.py").read_text() == "lr = 0.02\n"
    assert proposal.description == "raise the learning rate"
    assert proposal.cost_usd == pytest.approx(0.0123)
    assert proposal.tokens == 1500
    assert proposal.details["num_turns"] == 4
    seen = recorded(tmp_path)
    assert seen["argv"] == agent.command_line(request)[1:]
    assert seen["cwd"] == str(workdir)
    assert seen["stdin_source"] == "/dev/null"
    assert seen["env"] == {
        "AUTORESEARCH_PROMPT": str(request.prompt_path),
        "AUTORESEARCH_DESCRIPTION": str(workdir / ".autoresearch" / "agent" / "description.txt"),
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "OPENAI_API_BASE": None,
        "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY"),
    }
    assert request.prompt_path.read_text() == "Lower the loss."
    assert Path(str(proposal.details["stdout_log"])).read_text().startswith("{")


def test_claude_description_falls_back_to_the_result_text(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "no-description")
    setup = make_setup(workdir)
    stale = workdir / ".autoresearch" / "agent" / "description.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("an idea from the previous call\n")

    proposal = ClaudeAgent(setup).propose(make_request(workdir))

    assert proposal.description == "Doubled the learning rate."
    assert not stale.exists()


@pytest.mark.parametrize("exit_code", ["0", "1"])
def test_claude_is_error_fails_whatever_the_exit_code(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, exit_code: str
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "is-error")
    monkeypatch.setenv("STAND_IN_EXIT", exit_code)
    with pytest.raises(AgentError, match="claude reported an error: API Error: 401"):
        ClaudeAgent(make_setup(workdir)).propose(make_request(workdir))


def test_claude_failure_names_the_last_stderr_line(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "fail")
    with pytest.raises(AgentError) as caught:
        ClaudeAgent(make_setup(workdir)).propose(make_request(workdir))
    assert str(caught.value) == "claude exited 1: Error: invalid API key"


def test_claude_permission_denials_are_reported(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "denied")
    proposal = ClaudeAgent(make_setup(workdir)).propose(make_request(workdir))
    assert (workdir / "train.py").read_text() == "lr = 0.01\n"
    assert proposal.details["permission_denials"] == ["Write train.py"]
    assert "refused 1 tool call" in str(proposal.details["hint"])


def test_claude_passes_endpoint_and_key(workdir: Path) -> None:
    agent = ClaudeAgent(make_setup(workdir, base_url="http://127.0.0.1:9", api_key="k"))
    assert agent.extra_env() == {
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        "ANTHROPIC_API_KEY": "k",
    }


def test_claude_result_parsing_is_tolerant() -> None:
    result = {"type": "result", "is_error": False, "result": "ok"}
    assert parse_result(json.dumps(result)) == result
    assert parse_result("noise\n" + json.dumps(result) + "\n") == result
    listed = [{"type": "system"}, {"type": "assistant"}, result]
    assert parse_result(json.dumps(listed)) == result
    assert parse_result('{"type": "result", "is_er') == {}
    assert parse_result("") == {}


def test_missing_program_is_a_configuration_error(
    workdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(UserError) as caught:
        ClaudeAgent(make_setup(workdir)).propose(make_request(workdir))
    assert str(caught.value) == (
        "claude not found on PATH; install Claude Code or choose another --agent"
    )


# Codex


def test_codex_command_line_has_the_documented_flags(workdir: Path) -> None:
    agent = CodexAgent(make_setup(workdir, model="gpt-5", extra_args=("-c", "x=1")))
    argv = agent.command_line(make_request(workdir))
    assert argv[:6] == ["codex", "exec", "--json", "--skip-git-repo-check", "-s", "workspace-write"]
    assert argv[6:10] == ["--model", "gpt-5", "-c", "x=1"]
    assert argv[-1].startswith("Lower the loss.")
    assert len(argv) == 11


def test_codex_custom_endpoint_goes_through_config_overrides(workdir: Path) -> None:
    agent = CodexAgent(make_setup(workdir, base_url="http://127.0.0.1:8000/v1", api_key="k"))
    argv = agent.command_line(make_request(workdir))
    overrides = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-c"]
    assert 'model_provider="autoresearch"' in overrides
    assert 'model_providers.autoresearch.base_url="http://127.0.0.1:8000/v1"' in overrides
    assert 'model_providers.autoresearch.wire_api="responses"' in overrides
    assert agent.extra_env() == {"OPENAI_API_KEY": "k"}


def test_codex_edits_and_counts_tokens(fake_bin: Path, workdir: Path, tmp_path: Path) -> None:
    agent = CodexAgent(make_setup(workdir))
    request = make_request(workdir)
    proposal = agent.propose(request)

    assert (workdir / "train.py").read_text() == "lr = 0.02\n"
    assert proposal.description == "raise the learning rate"
    assert proposal.tokens == 960
    assert proposal.cost_usd is None
    assert proposal.details["unparsed_lines"] == 1
    seen = recorded(tmp_path)
    assert seen["argv"] == agent.command_line(request)[1:]
    assert seen["stdin_source"] == "/dev/null"


def test_codex_description_falls_back_to_the_final_message(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "no-description")
    proposal = CodexAgent(make_setup(workdir)).propose(make_request(workdir))
    assert proposal.description == "Switched to cosine decay."


def test_codex_reading_stdin_does_not_hang(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "stdin")
    # A stand-in left waiting for input would time out, and the call would fail.
    CodexAgent(make_setup(workdir, timeout=EVENT_DEADLINE)).propose(make_request(workdir))
    assert recorded(tmp_path)["stdin"] == ""


def test_codex_failed_turn_is_an_error(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "turn-failed")
    with pytest.raises(AgentError, match="codex turn failed: stream disconnected"):
        CodexAgent(make_setup(workdir)).propose(make_request(workdir))


def test_codex_event_shapes_old_and_new() -> None:
    lines = [
        '{"type": "item.completed", "item": {"id": "a", "item_type": "assistant_message",'
        ' "text": "old shape"}}',
        '{"type": "turn.completed", "usage": {"input_tokens": 5, "output_tokens": 1}}',
        '{"id": "0", "msg": {"type": "agent_message", "message": "older shape"}}',
        '{"type": "turn.completed", "usage": {"input_tokens": 7, "output_tokens": 2}}',
        '{"type": "error", "message": "Reconnecting... 1/5"}',
        '{"type": "turn.comp',
        "[1, 2]",
    ]
    summary = summarize_events("\n".join(lines))
    assert summary.last_message == "older shape"
    assert summary.tokens == 15
    assert summary.turns == 2
    assert summary.errors == ["Reconnecting... 1/5"]
    assert summary.unparsed_lines == 1
    assert summarize_events("").tokens is None


# Aider


def test_aider_command_line_has_the_documented_flags(workdir: Path) -> None:
    agent = AiderAgent(make_setup(workdir, model="openai/test", extra_args=("--no-stream",)))
    argv = agent.command_line(make_request(workdir))
    assert argv[:2] == ["aider", "--message"]
    assert argv[2].startswith("Lower the loss.")
    for flag in (
        "--yes-always", "--no-auto-commits", "--no-dirty-commits", "--no-check-update",
        "--no-analytics", "--no-show-model-warnings", "--no-gitignore", "--no-stream",
    ):  # fmt: skip
        assert flag in argv
    assert argv[argv.index("--edit-format") + 1] == "diff"
    assert argv[argv.index("--map-tokens") + 1] == "0"
    assert argv[argv.index("--model") + 1] == "openai/test"
    state = workdir / ".autoresearch" / "agent"
    for flag in ("--input-history-file", "--chat-history-file", "--llm-history-file"):
        assert Path(argv[argv.index(flag) + 1]).parent == state
    assert argv[-2:] == ["train.py", "model.py"]


def test_aider_edits_and_reports_cost_tokens_and_reply(
    fake_bin: Path, workdir: Path, tmp_path: Path
) -> None:
    agent = AiderAgent(make_setup(workdir, base_url="http://127.0.0.1:8000/v1", api_key="k"))
    request = make_request(workdir)
    proposal = agent.propose(request)

    assert (workdir / "train.py").read_text() == "lr = 0.02\n"
    assert proposal.description == "Use a smaller batch size."
    assert proposal.tokens == 2300 + 120 + 3000 + 80
    assert proposal.cost_usd == pytest.approx(0.0076)
    seen = recorded(tmp_path)
    assert seen["argv"] == agent.command_line(request)[1:]
    assert seen["env"]["OPENAI_API_BASE"] == "http://127.0.0.1:8000/v1"  # type: ignore[index]
    assert seen["stdin_source"] == "/dev/null"
    assert not list(workdir.glob(".aider*"))


def test_aider_output_parsing() -> None:
    assert parse_usage("nothing here") == (None, None)
    assert parse_usage("Tokens: 950 sent, 12 received.") == (962, None)
    colored = "\x1b[2mTokens: 1.5M sent, 1,200 received. Cost: $1.25 message, $2.50 session.\x1b[0m"
    assert parse_usage(colored) == (1_501_200, 2.5)
    assert first_reply_line("no prompt at all") is None
    assert first_reply_line("#### hi\n\n> Applied edit\n\n```python\nx\n") == "x"


# A user's command


def test_command_agent_needs_a_command(workdir: Path) -> None:
    with pytest.raises(UserError, match="--agent command needs --agent-cmd"):
        CommandAgent(make_setup(workdir))


def test_command_agent_sees_prompt_and_description_file(workdir: Path) -> None:
    script = (
        'cp "$AUTORESEARCH_PROMPT" seen-prompt.txt && echo "lr = 0.3" > train.py'
        ' && echo "from the file" > "$AUTORESEARCH_DESCRIPTION" && echo "last words"'
    )
    proposal = CommandAgent(make_setup(workdir, command=script)).propose(make_request(workdir))
    assert (workdir / "seen-prompt.txt").read_text() == "Lower the loss."
    assert (workdir / "train.py").read_text() == "lr = 0.3\n"
    assert proposal.description == "from the file"


def test_command_agent_description_falls_back_to_stdout(workdir: Path) -> None:
    agent = CommandAgent(make_setup(workdir, command="echo first; echo 'the idea'; echo"))
    assert agent.propose(make_request(workdir)).description == "the idea"
    quiet = CommandAgent(make_setup(workdir, command="true"))
    assert quiet.propose(make_request(workdir)).description == "(no description)"


def test_command_agent_appends_extra_args(workdir: Path) -> None:
    agent = CommandAgent(make_setup(workdir, command="echo", extra_args=("two words",)))
    assert agent.propose(make_request(workdir)).description == "two words"


def test_command_agent_failure(workdir: Path) -> None:
    agent = CommandAgent(make_setup(workdir, command="echo working; echo 'no model' >&2; exit 3"))
    with pytest.raises(AgentError) as caught:
        agent.propose(make_request(workdir))
    assert str(caught.value) == "command exited 3: no model"


def test_registry_builds_each_cli_agent(workdir: Path) -> None:
    setup = make_setup(workdir, command="true")
    for name, agent_class in [
        ("claude", ClaudeAgent), ("codex", CodexAgent),
        ("aider", AiderAgent), ("command", CommandAgent),
    ]:  # fmt: skip
        agent = build_agent(name, setup)
        assert isinstance(agent, agent_class)
        assert agent.name == name


# Processes: time limits, Ctrl-C, output kept on disk


def test_timeout_kills_the_agent_and_its_children(
    fake_bin: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STAND_IN_MODE", "hang")
    started = time.monotonic()
    with pytest.raises(AgentError, match=r"^agent timed out after 1 s$"):
        ClaudeAgent(make_setup(workdir, timeout=1.0)).propose(make_request(workdir))
    assert time.monotonic() - started < EVENT_DEADLINE  # not FOREVER: it was killed
    child = int(recorded(tmp_path)["child_pid"])  # type: ignore[call-overload]
    wait_for(lambda: process_gone(child), "the agent's child to die")
