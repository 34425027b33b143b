"""Running an agent program: time limits, Ctrl-C, leftovers, output on disk; picking a default."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from support import EVENT_DEADLINE, FOREVER, process_gone, wait_for

from autoresearch.errors import UserError
from autoresearch.loop.agents.base import AgentError
from autoresearch.loop.agents.choose import default_agent_name
from autoresearch.loop.agents.process import (
    ProcessResult,
    TurnLimit,
    read_tail,
    run_agent_process,
)


def run_script(
    tmp_path: Path, script: str, timeout: float | None = EVENT_DEADLINE, kill_grace: float = 0.5
) -> ProcessResult:
    """Run a shell script the way agents are run, with short limits."""
    return run_agent_process(
        script,
        label="script",
        workdir=tmp_path,
        output_dir=tmp_path / "out",
        env=dict(os.environ),
        limit=TurnLimit(timeout, kill_grace),
    )


def test_timeout_escalates_to_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"trap '' TERM; sleep {FOREVER} & echo $! > {pid_file}; wait; sleep {FOREVER}"
    started = time.monotonic()
    with pytest.raises(AgentError, match="timed out"):
        run_script(tmp_path, script, timeout=0.5, kill_grace=0.3)
    assert time.monotonic() - started < EVENT_DEADLINE  # not FOREVER: SIGKILL came
    wait_for(lambda: process_gone(int(pid_file.read_text())), "the agent's child to die")


def test_ctrl_c_kills_the_group_and_propagates(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = f"sleep {FOREVER} & echo $! > {pid_file}; wait"

    def interrupt_once_the_child_runs() -> None:
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), "the child")
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_the_child_runs, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_script(tmp_path, script)
    wait_for(lambda: process_gone(int(pid_file.read_text())), "the agent's child to die")


def test_background_helpers_are_stopped_after_a_normal_exit(tmp_path: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    result = run_script(
        tmp_path, f"sleep {FOREVER} > /dev/null 2>&1 & echo $! > {pid_file}; echo done"
    )
    assert result.returncode == 0
    assert result.stdout_tail().strip() == "done"
    wait_for(lambda: process_gone(int(pid_file.read_text())), "the agent's child to die")


def test_a_helper_the_agent_detached_with_setsid_is_stopped_with_its_turn(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "helper.pid"
    # It leaves the agent's process group and session: only the id it inherited finds it.
    script = f"setsid sleep {FOREVER} > /dev/null 2>&1 & echo $! > {pid_file}; exit 0"
    run_script(tmp_path, script)
    assert process_gone(int(pid_file.read_text()))


def test_large_output_goes_to_a_file_and_only_its_end_is_read(tmp_path: Path) -> None:
    result = run_agent_process(
        ["python3", "-c", "import sys; sys.stdout.write('x' * 3_000_000 + '\\nlast line\\n')"],
        label="chatty",
        workdir=tmp_path,
        output_dir=tmp_path / "out",
        env=dict(os.environ),
        limit=TurnLimit(EVENT_DEADLINE),
    )
    assert result.stdout_path.stat().st_size > 3_000_000
    assert result.stdout_tail(100).endswith("last line\n")
    assert len(result.stdout_tail()) <= 1024 * 1024
    assert read_tail(tmp_path / "missing.log", 10) == ""


# Choosing a default


def _bin_with(tmp_path: Path, *names: str) -> str:
    folder = tmp_path / "choose-bin"
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
    return str(folder)


def test_default_agent_prefers_installed_clis_in_order(tmp_path: Path) -> None:
    assert default_agent_name({"PATH": _bin_with(tmp_path, "aider", "codex")}, False) == "codex"
    assert default_agent_name({"PATH": _bin_with(tmp_path, "claude")}, True) == "claude"


def test_default_agent_falls_back_to_api_then_tuner(tmp_path: Path) -> None:
    empty = str(tmp_path)
    assert default_agent_name({"PATH": empty, "OPENAI_API_KEY": "k"}, True) == "openai"
    assert default_agent_name({"PATH": empty, "OPENAI_BASE_URL": "http://x"}, False) == "openai"
    assert default_agent_name({"PATH": empty}, True) == "tune"
    with pytest.raises(UserError, match="no agent available.*--agent"):
        default_agent_name({"PATH": empty}, False)
