"""`autoresearch doctor` on real repositories, with real commands and a stand-in agent CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support import EVENT_DEADLINE, Cli, write_train

from autoresearch.store.files import SessionFiles, session_lock

PASSING_AGENT = f"{sys.executable} -c pass"


def doctor(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "autoresearch", "doctor", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=EVENT_DEADLINE,
        env=env or dict(os.environ),
    )
    assert result.stderr == ""
    return result.returncode, result.stdout


def run_flags(run: str = f"{sys.executable} train.py", metric: str = "val_bpb") -> list[str]:
    return ["--run", run, "--metric", metric, "--budget", "60"]


def line(output: str, name: str) -> str:
    return next(row for row in output.splitlines() if row[6:].startswith(name + " "))


def test_a_ready_night_is_all_ok_and_exits_zero(repo: Path) -> None:
    code, out = doctor(repo, *run_flags(), "--agent", "command", "--agent-cmd", PASSING_AGENT)
    assert code == 0, out
    assert line(out, "git").startswith("ok ") and "on main" in line(out, "git")
    assert line(out, "run").startswith("ok ")
    assert "printed val_bpb: 1 in " in line(out, "run") and "(budget 60 s)" in line(out, "run")
    assert line(out, "disk").startswith(("ok ", "warn "))
    assert line(out, "agent").startswith("ok ") and line(out, "gpus")
    assert out.splitlines()[-1].startswith("doctor: ready for the night")


def test_a_failing_command_and_a_missing_metric_stop_the_night(repo: Path) -> None:
    crashing = f"{sys.executable} -c \"import sys; print('boom: no GPU'); sys.exit(3)\""
    code, out = doctor(repo, *run_flags(run=crashing), "--agent", "command", "--agent-cmd", "true")
    assert code == 1
    assert line(out, "run").startswith("FAIL ") and "exit 3" in line(out, "run")
    assert "last line: boom: no GPU" in line(out, "run")
    assert out.splitlines()[-1] == "doctor: 1 problem(s) would stop the night"
    code, out = doctor(
        repo, *run_flags(metric="val_bpd"), "--agent", "command", "--agent-cmd", "true"
    )
    assert code == 1
    run = line(out, "run")
    assert run.startswith("FAIL ") and "no 'val_bpd: <number>' line" in run
    assert (
        "the run printed val_bpb:, peak_vram_mb:" in run and "did you mean --metric val_bpb?" in run
    )


def test_missing_settings_and_a_bare_interpreter_are_reported(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    code, out = doctor(outside, "--no-run")
    assert code == 1 and line(out, "git").startswith("FAIL ") and "not in a git repository" in out
    code, out = doctor(repo, "--no-run", "--agent", "command", "--agent-cmd", "true")
    assert code == 1 and line(out, "settings").startswith("FAIL ")
    assert "no run command" in line(out, "settings")
    code, out = doctor(
        repo,
        *run_flags(run="python train.py"),
        "--no-run",
        "--agent",
        "command",
        "--agent-cmd",
        "true",
    )
    assert code == 0 and line(out, "settings").startswith("warn ")
    assert "give the interpreter by its absolute path" in line(out, "settings")


def test_an_agent_cli_is_found_with_its_version_and_its_key_never_printed(
    repo: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "claude"
    fake.write_text("#!/bin/sh\necho '9.9.9 (Claude Code)'\n")
    fake.chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "CLAUDE_", "OPENAI_"))
    }
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path / "home"))
    flags = [*run_flags(), "--no-run", "--agent", "claude"]
    code, out = doctor(repo, *flags, env=env)
    agent = line(out, "agent")
    assert code == 1 and agent.startswith("FAIL ")
    assert f"claude 9.9.9 (Claude Code) at {fake}" in agent and "no ANTHROPIC_API_KEY" in agent
    assert "export ANTHROPIC_API_KEY" in agent
    code, out = doctor(repo, *flags, env={**env, "ANTHROPIC_API_KEY": "sk-secret-doctor"})
    assert code == 0, out
    assert "key in ANTHROPIC_API_KEY" in line(out, "agent")
    assert "sk-secret-doctor" not in out
    code, out = doctor(repo, *run_flags(), "--no-run", "--agent", "openai", "--model", "m", env=env)
    assert code == 1 and "needs an API key: set OPENAI_API_KEY" in line(out, "agent")
    code, out = doctor(repo, *run_flags(), "--no-run", "--agent", "codex", env=env)
    assert code == 1 and "codex not found on PATH" in line(out, "agent")


def test_in_a_session_its_frozen_settings_are_checked_and_edits_are_a_warning(
    repo: Path, cli: Cli
) -> None:
    assert cli.init().returncode == 0
    write_train(repo, 0.5)
    code, out = doctor(repo, "--agent", "command", "--agent-cmd", PASSING_AGENT)
    assert code == 0, out
    assert line(out, "git").startswith("warn ") and "train.py" in line(out, "git")
    assert "on autoresearch/t" in line(out, "git")
    assert "printed val_bpb: 0.5" in line(out, "run")
    with session_lock(SessionFiles(str(repo), "t")):  # as a running loop holds it
        code, out = doctor(repo, "--agent", "command", "--agent-cmd", PASSING_AGENT)
    assert code == 0 and line(out, "run").startswith("info ")
    assert f"not run: a command of this session is running (pid {os.getpid()})" in out


def test_ray_is_checked_only_when_configured(repo: Path) -> None:
    flags = [*run_flags(), "--no-run", "--agent", "command", "--agent-cmd", "true"]
    without = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    code, out = doctor(repo, *flags, env=without)
    assert code == 0 and "ray " not in out
    env = {**without, "RAY_ADDRESS": "ray://127.0.0.1:9"}  # the discard port: nothing listens
    code, out = doctor(repo, *flags, env=env)
    assert code == 1 and line(out, "ray").startswith("FAIL ") and "unreachable" in line(out, "ray")
