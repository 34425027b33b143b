"""One line of a run's output cannot hang the tool: a user's pattern that backtracks without end
on it is cut off by a time limit and the run is a crash that says so, and Ctrl-C acts at once
while the log is read."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from support import Cli, ledger_rows, process_gone, wait_for, wait_for_run

# `re` backtracks on this for longer than anyone waits: an a's line that ends in `!`.
BACKTRACKING = r"^(?:a+)+$|val_bpb: (\S+)"
# A forged value printed first, then the line that no pattern gets past in time.
STALLING_RUN = "print('val_bpb: 0.1')\nprint('a' * 200_000 + '!')\n"


@pytest.fixture
def session(repo: Path, cli: Cli) -> Cli:
    result = cli.init("--pattern", BACKTRACKING, "--noise", "off")
    assert result.returncode == 0, result.stderr
    return cli


@pytest.mark.parametrize("where", [(), ("--in-worktree",)], ids=["in place", "in a worktree"])
def test_a_line_the_pattern_cannot_get_past_is_a_crash_that_names_it(
    repo: Path, session: Cli, where: tuple[str, ...]
) -> None:
    (repo / "train.py").write_text(STALLING_RUN)
    started = time.monotonic()
    result = session("try", "-m", "prints a line of a's", *where, timeout=60)
    assert time.monotonic() - started < 60
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("crash")
    assert "timed out" in result.stdout and "line 1 from the end of the run log" in result.stdout
    row = ledger_rows(repo)[-1]
    assert row["status"] == "crash" and row["val_bpb"] == "0.000000"  # the forged 0.1 never won


def test_ctrl_c_while_the_log_is_read_stops_at_once(repo: Path, session: Cli) -> None:
    (repo / "train.py").write_text(STALLING_RUN)
    tool = session.popen("try", "-m", "prints a line of a's")
    wait_for_run(repo, tool)
    group = json.loads((repo / ".autoresearch/t/inflight.json").read_text())["group"]
    wait_for(lambda: process_gone(group), "the run to end")  # the tool now reads its log
    tool.send_signal(signal.SIGINT)
    try:
        out, err = tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:  # deaf to Ctrl-C: not left behind holding a core
            tool.kill()
            tool.wait()
    assert tool.returncode == 130, err
    # Cut short, not waited out: the limit is a backstop that a Ctrl-C never waits for.
    assert "interrupted" in out and "timed out" not in out
    row = ledger_rows(repo)[-1]
    assert row["status"] == "crash" and row["val_bpb"] == "0.000000"
