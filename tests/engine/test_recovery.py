from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kill_states import killed_after_the_entry
from support import (
    EVENT_DEADLINE,
    Cli,
    alive_with,
    git,
    ledger_lines,
    process_gone,
    wait_for,
    wait_for_run,
    write_train,
)

from autoresearch.store import sandbox
from autoresearch.store.runner import group_alive

# The processes are found by a word in their command lines (STUCK, DETACHED): inside the
# sandbox a pid file holds the sandbox's own numbers. The word is this test process's own, so
# that another suite running beside this one (or another xdist worker) is never mistaken for it.
STUCK = f"stuck-child-of-the-run-{uuid.uuid4().hex[:12]}"
DETACHED = f"detached-helper-{uuid.uuid4().hex[:12]}"
CHILD_IGNORING_TERM = f"""\
import os, signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\ntime.sleep(600)",
    "{STUCK}"])
open("child.pid", "w").write(str(child.pid))
signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(600)
"""
BOTH = pytest.mark.parametrize("mode", ["on", "off"])


# A helper started in a session of its own (`setsid`, a detached server) leaves the run's
# process group; it still carries the run's id in its environment.
DETACHED_HELPER = """\
import subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{detached}"],
    start_new_session=True)
open("helper.pid", "w").write(str(helper.pid))
print("val_bpb: 0.9")
sys.stdout.flush()
time.sleep({run_seconds})
"""


@pytest.fixture
def session(repo: Path, cli: Cli) -> Cli:
    assert cli.init().returncode == 0
    return cli


@pytest.fixture
def either(repo: Path, cli: Cli, mode: str) -> Cli:
    """The session with its runs in the sandbox (``on``) or without it (``off``)."""
    if mode == "on" and sandbox.unavailable():
        pytest.skip(f"no sandbox here: {sandbox.unavailable()}")
    assert cli.init("--sandbox", mode).returncode == 0
    return cli


def gone(token: str) -> bool:
    return not alive_with(token)


def start_stuck_run(repo: Path, cli: Cli) -> tuple[object, str, str]:
    (repo / "train.py").write_text(CHILD_IGNORING_TERM)
    keep = git(repo, "rev-parse", "HEAD")
    tool = cli.popen("try", "-m", "hangs")
    wait_for(lambda: (repo / "child.pid").exists() and (repo / "child.pid").read_text(), "the run")
    wait_for(lambda: alive_with(STUCK), "the run's child")
    return tool, STUCK, keep


@BOTH
def test_tool_killed_mid_run_is_recovered_by_the_next_command(
    repo: Path, either: Cli, mode: str
) -> None:
    session = either
    tool, child, keep = start_stuck_run(repo, session)
    group = json.loads((repo / ".autoresearch/t/inflight.json").read_text())["group"]
    tool.send_signal(signal.SIGKILL)
    tool.wait()
    status = session("status")
    assert "interrupted: experiment 1" in status.stdout
    if mode == "on":  # the sandbox dies with the tool, and the run with it
        wait_for(lambda: gone(child), "the run to die with the tool")
    else:  # the run outlived the tool...
        assert alive_with(child)
        assert f"its run is still alive (pid {group})" in status.stdout
    result = session("reset")
    assert result.returncode == 0
    assert "interrupted: recorded as crash" in result.stderr
    assert not group_alive(group) and gone(child)  # ...until the next command
    assert git(repo, "rev-parse", "HEAD") == keep
    assert ledger_lines(repo)[-1][-2:] == ["crash", "hangs"]
    assert not (repo / ".autoresearch/t/inflight.json").exists()
    write_train(repo, 0.5)
    assert session("try", "-m", "goes on").stdout.startswith("keep")


@BOTH
def test_ctrl_c_kills_the_run_tree_records_and_restores(repo: Path, either: Cli) -> None:
    tool, child, keep = start_stuck_run(repo, either)
    tool.send_signal(signal.SIGINT)
    out, err = tool.communicate()
    assert tool.returncode == 130
    assert "interrupted" in out
    assert gone(child)
    assert git(repo, "rev-parse", "HEAD") == keep
    assert ledger_lines(repo)[-1][-2:] == ["crash", "hangs"]


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGHUP])
@BOTH
def test_sigterm_or_sighup_to_the_tool_stops_the_run_as_ctrl_c_does(
    repo: Path, either: Cli, sent: signal.Signals
) -> None:
    tool, child, keep = start_stuck_run(repo, either)
    tool.send_signal(sent)
    out, _ = tool.communicate()
    assert tool.returncode == 130 and "interrupted" in out
    assert gone(child)  # no orphaned run left holding the machine
    assert git(repo, "rev-parse", "HEAD") == keep
    assert ledger_lines(repo)[-1][-2:] == ["crash", "hangs"]


def test_under_nohup_a_hangup_is_still_ignored(repo: Path, session: Cli, tmp_path: Path) -> None:
    go = tmp_path / "go"
    write_train(repo, 0.5, GO=str(go))
    tool = subprocess.Popen(
        [sys.executable, "-m", "autoresearch", "try", "-m", "survives the hangup"],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )
    wait_for_run(repo, tool)
    tool.send_signal(signal.SIGHUP)
    go.touch()  # the run ends only after the hangup
    out, _ = tool.communicate()
    assert tool.returncode == 0 and out.startswith("keep")


@BOTH
def test_timeout_kills_children_that_ignore_sigterm(repo: Path, cli: Cli, mode: str) -> None:
    if mode == "on" and sandbox.unavailable():
        pytest.skip(f"no sandbox here: {sandbox.unavailable()}")
    assert cli.init("--timeout", "1", "--sandbox", mode).returncode == 0
    (repo / "train.py").write_text(CHILD_IGNORING_TERM)
    result = cli("try", "-m", "stubborn")
    assert "timeout after 1 s" in result.stdout
    assert gone(STUCK)


def test_an_entry_recorded_before_the_kill_is_finished_not_duplicated(
    repo: Path, session: Cli
) -> None:
    write_train(repo, 0.5)
    git(repo, "commit", "-qam", "better")
    candidate = git(repo, "rev-parse", "HEAD")
    keep = git(repo, "rev-parse", "refs/autoresearch/t/keep")
    killed_after_the_entry(repo, candidate, keep)
    result = session("status", "--json")
    assert json.loads(result.stdout)["running"]["alive"] is False
    assert session("reset").returncode == 0
    assert git(repo, "rev-parse", "refs/autoresearch/t/keep") == candidate
    assert [row[-2] for row in ledger_lines(repo)[1:]] == ["keep", "keep"]
    assert "nothing to repair" in session("repair").stdout


def test_huge_output_is_streamed_not_held_in_memory(repo: Path, session: Cli) -> None:
    (repo / "train.py").write_text(
        "import sys\n"
        "block = b'x' * 1023 + b'\\n'\n"
        "out = sys.stdout.buffer\n"
        "for _ in range(1024 * 1024):\n"
        "    out.write(block)\n"
        "out.write(b'val_bpb: 0.5\\n')\n"
    )
    # The tool's peak memory, measured by a parent of its own so no other process counts.
    measure = (
        "import resource, subprocess, sys\n"
        "out = subprocess.run([sys.executable, '-m', 'autoresearch', 'try', '-m', '1 GB'],"
        " capture_output=True, text=True).stdout\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(out)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", measure],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=EVENT_DEADLINE,
    )
    peak_line, verdict_line = result.stdout.splitlines()[:2]
    peak_kb = int(peak_line)
    assert verdict_line.startswith("keep"), result.stdout + result.stderr
    assert (repo / "run.log").stat().st_size > 1024**3
    assert peak_kb < 200 * 1024, f"peak RSS {peak_kb} kB"
    os.remove(repo / "run.log")


def test_non_utf8_output_and_repeated_metric(repo: Path, session: Cli) -> None:
    (repo / "train.py").write_text(
        "import sys\n"
        "sys.stdout.buffer.write(b'\\xff\\xfe garbage \\x80\\n')\n"
        "print('val_bpb: 0.9')\nprint('val_bpb: 0.8')\n"
        "sys.stdout.flush()\nsys.stdout.buffer.write(b'\\xc3\\x28 more\\n')\n"
    )
    result = session("try", "-m", "noisy bytes")
    assert result.stdout.startswith("keep") and "val_bpb 0.800000" in result.stdout


def test_hand_edited_ledger_rows_are_reported_refused_and_kept_aside(
    repo: Path, session: Cli
) -> None:
    with open(repo / "results.tsv", "a") as handle:
        handle.write("garbage line without tabs\n")
    edited = (repo / "results.tsv").read_text()
    status = session("status")
    assert "record: results.tsv row 1 (line 3) is not in the session's record" in status.stdout
    assert (repo / "results.tsv").read_text() == edited
    write_train(repo, 0.5)
    refused = session("try", "-m", "after edit")
    assert refused.returncode == 2 and "row 1 (line 3) is not in" in refused.stderr
    repaired = session("repair")
    aside = repaired.stdout.split("kept in ")[1].strip()
    assert (repo / aside / "results.tsv").read_text() == edited
    assert session("try", "-m", "after edit").stdout.startswith("keep")
    assert "garbage" not in (repo / "results.tsv").read_text()


def test_reset_pins_stray_edits_under_a_ref(repo: Path, session: Cli) -> None:
    write_train(repo, 0.3)
    result = session("reset")
    assert "abandoned work kept at refs/autoresearch/t/abandoned/1" in result.stdout
    assert "VALUE = 1.0" in (repo / "train.py").read_text()
    pinned = git(repo, "show", "refs/autoresearch/t/abandoned/1:train.py")
    assert "VALUE = 0.3" in pinned


def test_reset_abandons_a_crashed_candidate(repo: Path, session: Cli) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    write_train(repo, 0.3, EXIT=2)
    session("try", "-m", "crashes")
    crashed = git(repo, "rev-parse", "HEAD")
    result = session("reset")
    assert f"reset to the keep ref {keep[:7]}" in result.stdout
    assert git(repo, "rev-parse", "HEAD") == keep
    assert git(repo, "rev-parse", "refs/autoresearch/t/exp/1") == crashed


def test_rewind_moves_back_to_an_earlier_keep_only(repo: Path, session: Cli) -> None:
    baseline = git(repo, "rev-parse", "HEAD")
    write_train(repo, 0.9)
    session("try", "-m", "lucky")
    write_train(repo, 2.0)
    session("try", "-m", "bad")
    discarded = git(repo, "rev-parse", "refs/autoresearch/t/exp/2")
    refused = session("rewind", discarded[:7])
    assert refused.returncode == 2 and "not a kept commit" in refused.stderr
    result = session("rewind", baseline[:7])
    assert result.returncode == 0, result.stderr
    assert git(repo, "rev-parse", "HEAD") == baseline
    assert "rewound: keep ref moved" in session("status").stdout
    write_train(repo, 0.95)
    again = session("try", "-m", "compared against the rewound keep")
    assert again.stdout.startswith("keep") and "best was 1.000000" in again.stdout


@BOTH
def test_a_helper_that_left_the_run_s_process_group_does_not_outlive_the_run(
    repo: Path, either: Cli
) -> None:
    (repo / "train.py").write_text(DETACHED_HELPER.format(run_seconds=0, detached=DETACHED))
    result = either("try", "-m", "starts a detached helper")
    assert result.returncode == 0 and result.stdout.startswith("keep"), result.stderr
    assert gone(DETACHED)  # gone when try returns


def test_a_detached_helper_of_a_run_orphaned_by_a_kill_is_stopped_by_the_next_command(
    repo: Path, cli: Cli
) -> None:
    # Outside the sandbox (inside it the helper dies with the tool: see above).
    assert cli.init("--sandbox", "off").returncode == 0
    session = cli
    (repo / "train.py").write_text(DETACHED_HELPER.format(run_seconds=600, detached=DETACHED))
    tool = session.popen("try", "-m", "detaches, then hangs")
    wait_for(lambda: (repo / "helper.pid").exists() and (repo / "helper.pid").read_text(), "it")
    wait_for_run(repo, tool)
    helper = int((repo / "helper.pid").read_text())
    inflight = json.loads((repo / ".autoresearch/t/inflight.json").read_text())
    tool.send_signal(signal.SIGKILL)
    tool.wait()
    os.killpg(inflight["group"], signal.SIGKILL)  # only the helper is left, outside the group
    wait_for(lambda: not group_alive(inflight["group"]), "the run's group to die")
    assert not process_gone(helper)
    result = session("reset")
    assert result.returncode == 0 and "interrupted: recorded as crash" in result.stderr
    assert process_gone(helper)
