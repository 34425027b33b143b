"""The live progress line: at a terminal (a real pty), and never in a pipe."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from support import EVENT_DEADLINE, Cli, git, ledger_lines
from terminal import Terminal

from autoresearch.reports.progress import Phase, last_log_line, phase_text

# A run that prints a line, then waits until the test has seen that line on the terminal.
SLOW_TRAIN = """\
import pathlib, time
print("epoch 1 loss 3.25", flush=True)
go = pathlib.Path({go!r})
deadline = time.monotonic() + {deadline}
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print("val_bpb: {value}")
"""


def at_terminal(
    args: list[str], cwd: Path, env: dict[str, str], react: Callable[[str], None]
) -> tuple[int, str]:
    """Run the CLI with a pty as its terminal; ``react`` sees the output so far as it comes."""
    terminal = Terminal(cwd, *args, env=env)
    try:
        terminal.read_to_end(react)
        return terminal.finish(), terminal.seen
    finally:
        terminal.close()


def slow_train_text(go: Path, value: float) -> str:
    return SLOW_TRAIN.format(go=str(go), value=value, deadline=EVENT_DEADLINE)


def slow_train(repo: Path, go: Path, value: float) -> None:
    (repo / "train.py").write_text(slow_train_text(go, value))


def release_when(seen: str, go: Path) -> Callable[[str], None]:
    def react(output: str) -> None:
        if seen in output:
            go.touch()

    return react


def test_try_at_a_terminal_shows_the_run_and_its_last_log_line(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    assert cli.init("--budget", "100", "--noise", "off").returncode == 0
    go = tmp_path / "go"
    slow_train(repo, go, 0.5)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NO_COLOR", None)
    code, output = at_terminal(
        ["try", "-m", "slow"], repo, env, release_when("epoch 1 loss 3.25", go)
    )
    assert code == 0, output
    assert re.search(r"running 0m\d\ds / 1m40s", output)  # elapsed against the budget
    assert "\r\x1b[K\x1b[2mrunning " in output and "· epoch 1 loss 3.25" in output
    assert output.rstrip().splitlines()[-1].lstrip("\r\x1b[K").startswith("keep ")
    assert ledger_lines(repo)[-1][-2:] == ["keep", "slow"]


def test_loop_at_a_terminal_shows_the_agent_then_the_run_without_colour_under_no_color(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    assert cli.init("--noise", "off").returncode == 0
    go, agent_go = tmp_path / "go", tmp_path / "agent-go"
    agent = tmp_path / "agent.py"
    agent.write_text(
        f"import pathlib, sys, time\ngive_up = time.monotonic() + {EVENT_DEADLINE}\n"
        f"while not pathlib.Path({str(agent_go)!r}).exists() and time.monotonic() < give_up:\n"
        "    time.sleep(0.05)\n"
        f"pathlib.Path('train.py').write_text({slow_train_text(go, 0.5)!r})\n"
    )
    seen_agent = release_when("experiment 1: command working 0m", agent_go)
    seen_run = release_when(" · epoch 1 loss 3.25", go)

    def react(output: str) -> None:
        seen_agent(output)
        seen_run(output)

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    args = ["loop", "--agent", "command", "--agent-cmd", f"{sys.executable} {agent}"]
    code, output = at_terminal([*args, "--max-experiments", "1"], repo, env, react)
    assert code == 0, output
    assert go.exists() and agent_go.exists()
    assert "\r\x1b[Kexperiment 1 (best 1): running 0m" in output  # drawn as the run starts
    assert "\x1b[2m" not in output  # no colour, only the line's own erasing
    assert "[1] keep " in output and "reached --max-experiments 1" in output
    assert git(repo, "status", "--porcelain") == ""


def test_the_line_shows_repeats_and_the_last_screen_of_a_progress_bar(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("step 1\n\x1b[32m 10%|#   |\r 50%|#####|\r\n\n")
    assert last_log_line(str(log)) == "50%|#####|"
    phase = Phase("experiment 3: running", 100.0, 300.0, str(log), run=2, max_runs=4)
    assert phase_text(phase, 172.0) == (
        "experiment 3: running 1m12s / 5m00s · repeat 2 of up to 4 · 50%|#####|"
    )
    assert phase_text(Phase("experiment 3: claude working", 100.0), 3700.0) == (
        "experiment 3: claude working 1h00m"
    )
    assert last_log_line(str(tmp_path / "missing.log")) == ""
