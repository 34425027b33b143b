from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import (
    EVENT_DEADLINE,
    FOREVER,
    Cli,
    git,
    ledger_lines,
    wait_for,
    wait_for_run,
    write_train,
)


@pytest.fixture
def session(repo: Path, cli: Cli) -> Cli:
    result = cli.init("--also", "peak_vram_mb")
    assert result.returncode == 0, result.stderr
    return cli


def keep_ref(repo: Path) -> str:
    return git(repo, "rev-parse", "refs/autoresearch/t/keep")


def test_keep_moves_the_keep_ref_and_reports_the_change(repo: Path, session: Cli) -> None:
    write_train(repo, 0.9)
    result = session("try", "-m", "increase LR to 0.04")
    assert result.returncode == 0
    line = result.stdout.splitlines()[0]
    assert line.startswith("keep ") and "val_bpb 0.900000" in line
    assert "\r" not in result.stdout and "\x1b" not in result.stdout  # no live line in a pipe
    assert "(best was 1.000000, -10.00%)" in line
    assert keep_ref(repo) == git(repo, "rev-parse", "HEAD")
    assert git(repo, "log", "-1", "--format=%s") == "increase LR to 0.04"
    assert git(repo, "status", "--porcelain") == ""


def test_discard_resets_the_tree_and_keeps_the_commit_reachable(repo: Path, session: Cli) -> None:
    before = keep_ref(repo)
    write_train(repo, 1.5)
    result = session("try", "-m", "switch to GeLU")
    assert result.returncode == 0
    assert result.stdout.startswith("discard") and f"reset to {before[:7]}" in result.stdout
    assert git(repo, "rev-parse", "HEAD") == before
    assert "VALUE = 1.0" in (repo / "train.py").read_text()
    tried = git(repo, "rev-parse", "refs/autoresearch/t/exp/1")
    assert git(repo, "log", "-1", "--format=%s", tried) == "switch to GeLU"
    assert "VALUE = 1.5" in git(repo, "show", f"{tried}:train.py")
    assert (repo / ".autoresearch/t/logs").joinpath(f"0001-{tried[:7]}.log").is_file()


def test_edits_the_run_makes_to_tracked_files_are_pinned_before_a_discard(
    repo: Path, session: Cli
) -> None:
    write_train(repo, 1.5)
    train = (repo / "train.py").read_text()
    scribble = "open('README.md', 'a').write('written by the run')\n"
    (repo / "train.py").write_text(
        train.replace('print("training...")', scribble + 'print("training...")')
    )
    result = session("try", "-m", "worse, and scribbles on README.md")
    assert result.returncode == 0 and result.stdout.startswith("discard"), result.stdout
    assert "during the run: kept at refs/autoresearch/t/abandoned/1" in result.stdout
    assert (repo / "README.md").read_text() == "project\n"
    assert git(repo, "status", "--porcelain") == ""
    pinned = git(repo, "show", "refs/autoresearch/t/abandoned/1:README.md")
    assert pinned == "project\nwritten by the run"
    assert ledger_lines(repo)[-1][-2:] == ["discard", "worse, and scribbles on README.md"]


def test_a_candidate_with_a_diff_larger_than_a_pipe_is_decided(repo: Path, session: Cli) -> None:
    # Its lines are counted while it runs; a crash never reads them at all.
    filler = "".join(f"X{i} = {i}  # a line of a large change\n" for i in range(20000))
    write_train(repo, 1.5)
    (repo / "train.py").write_text((repo / "train.py").read_text() + filler)
    assert session("try", "-m", "worse and large").stdout.startswith("discard")
    write_train(repo, 0.5, EXIT=1)
    (repo / "train.py").write_text((repo / "train.py").read_text() + filler)
    assert session("try", "-m", "crashing and large").stdout.startswith("crash")
    assert [row[-2] for row in ledger_lines(repo)[-2:]] == ["discard", "crash"]


def test_row_is_complete_and_json_output_matches(repo: Path, session: Cli) -> None:
    write_train(repo, 0.8)
    result = session("try", "-m", "tabs\tin\ndescription", "--json")
    data = json.loads(result.stdout)
    assert data["status"] == "keep" and data["value"] == 0.8 and data["best_before"] == 1.0
    assert data["metrics"] == {"val_bpb": 0.8, "peak_vram_mb": 1000.0}
    assert data["description"] == "tabs in description"
    row = ledger_lines(repo)[-1]
    assert row[0] == data["commit"][:7]
    assert row[1:3] == ["0.800000", "1000.000000"]
    assert row[-2:] == ["keep", "tabs in description"]


def test_equal_and_simpler_is_kept(repo: Path, session: Cli) -> None:
    text = (repo / "train.py").read_text().replace('print("training...")\n', "")
    (repo / "train.py").write_text(text)
    result = session("try", "-m", "drop a print")
    assert result.stdout.startswith("keep") and "equal and simpler" in result.stdout


def test_crash_stays_checked_out_and_a_fix_is_measured_against_the_keep_ref(
    repo: Path, session: Cli
) -> None:
    keep = keep_ref(repo)
    write_train(repo, 0.7, EXIT=1)
    crash = session("try", "-m", "bigger batch")
    assert crash.returncode == 0
    assert crash.stdout.startswith("crash") and "exit 1" in crash.stdout
    assert "autoresearch reset" in crash.stdout and "val_bpb: 0.700000" in crash.stdout
    crashed = git(repo, "rev-parse", "HEAD")
    assert crashed != keep and keep_ref(repo) == keep
    again = session("try", "-m", "same thing")
    assert again.returncode == 2 and "already tried (crash)" in again.stderr
    write_train(repo, 0.7)
    fixed = session("try", "-m", "bigger batch, fixed")
    assert fixed.stdout.startswith("keep") and "(best was 1.000000" in fixed.stdout
    assert git(repo, "rev-parse", "HEAD~1") == crashed
    assert [r[-2] for r in ledger_lines(repo)[1:]] == ["keep", "crash", "keep"]
    assert ledger_lines(repo)[2][1] == "0.000000"


def test_agent_commits_on_top_of_the_keep_ref_are_the_candidate(repo: Path, session: Cli) -> None:
    write_train(repo, 0.95)
    git(repo, "commit", "-qam", "agent's own commit")
    mine = git(repo, "rev-parse", "HEAD")
    result = session("try", "-m", "agent committed")
    assert result.stdout.startswith("keep") and mine[:7] in result.stdout
    assert keep_ref(repo) == mine


def test_out_of_scope_and_protected_changes_are_refused_untouched(repo: Path, session: Cli) -> None:
    write_train(repo, 0.5)
    (repo / "prepare.py").write_text("DATA = 'easier'\n")
    (repo / "README.md").write_text("edited\n")
    head = git(repo, "rev-parse", "HEAD")
    result = session("try", "-m", "cheat")
    assert result.returncode == 2
    assert "protected file(s): prepare.py" in result.stderr
    assert "outside scope: README.md" in result.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "prepare.py").read_text() == "DATA = 'easier'\n"
    assert len(ledger_lines(repo)) == 2


def test_untracked_files_outside_scope_are_never_committed_or_touched(
    repo: Path, session: Cli
) -> None:
    (repo / "notes.txt").write_text("my notes\n")
    write_train(repo, 1.5)
    session("try", "-m", "discarded idea")
    write_train(repo, 0.5)
    session("try", "-m", "kept idea")
    assert (repo / "notes.txt").read_text() == "my notes\n"
    assert "notes.txt" not in git(repo, "ls-tree", "-r", "--name-only", "HEAD")
    assert git(repo, "status", "--porcelain") == "?? notes.txt"


def test_file_names_with_pattern_characters_are_taken_literally(repo: Path, cli: Cli) -> None:
    (repo / "cfg*.py").write_text("A = 1\n")
    git(repo, "add", "cfg*.py")
    git(repo, "commit", "-qm", "a settings file whose name has a star")
    assert cli.init("--scope", "cfg[*].py").returncode == 0
    (repo / "cfg*.py").write_text("A = 2\n")
    (repo / "cfg2.py").write_text("mine, outside scope\n")
    assert cli("try", "-m", "edit the starred file").stdout.startswith("discard")
    tried = git(repo, "rev-parse", "refs/autoresearch/t/exp/1")
    assert git(repo, "diff", "--name-only", f"{tried}~1", tried) == "cfg*.py"
    assert (repo / "cfg2.py").read_text() == "mine, outside scope\n"


@pytest.mark.parametrize("untracked", [False, True])
def test_the_candidate_is_the_working_tree_as_it_stands(
    repo: Path, cli: Cli, untracked: bool
) -> None:
    """Edits, deletions and what the agent staged are committed as the files are now; so are
    new files, which git must be told of first."""
    for name in ("model.py", "old.py"):
        (repo / name).write_text(f"# {name}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "two more modules")
    assert cli.init("--scope", "*.py").returncode == 0
    write_train(repo, 1.5)
    (repo / "old.py").unlink()
    (repo / "model.py").write_text("LAYERS = 2\n")
    git(repo, "add", "model.py")
    (repo / "model.py").write_text("LAYERS = 3\n")  # edited again after staging
    (repo / "staged.py").write_text("NEW = 1\n")
    git(repo, "add", "staged.py")
    if untracked:
        (repo / "fresh.py").write_text("FRESH = 1\n")
    (repo / "notes.txt").write_text("mine, outside scope\n")
    result = cli("try", "-m", "several kinds of change")
    assert result.returncode == 0 and result.stdout.startswith("discard"), result.stderr
    tried = git(repo, "rev-parse", "refs/autoresearch/t/exp/1")
    changes = git(repo, "diff", "--name-status", f"{tried}~1", tried).splitlines()
    expected = ["M\tmodel.py", "D\told.py", "A\tstaged.py", "M\ttrain.py"]
    assert sorted(changes) == sorted(expected + (["A\tfresh.py"] if untracked else []))
    assert git(repo, "show", f"{tried}:model.py") == "LAYERS = 3"
    assert json.loads(cli("status", "--json").stdout)["experiments"] == 2
    assert git(repo, "status", "--porcelain") == "?? notes.txt"


def test_a_row_deleted_by_hand_is_refused_and_no_pin_moves(repo: Path, session: Cli) -> None:
    write_train(repo, 1.5)
    session("try", "-m", "first discard")
    first = git(repo, "rev-parse", "refs/autoresearch/t/exp/1")
    ledger = repo / "results.tsv"
    ledger.write_text("".join(ledger.read_text().splitlines(keepends=True)[:-1]))  # its row
    write_train(repo, 1.6)
    refused = session("try", "-m", "second discard")
    assert refused.returncode == 2
    assert "results.tsv lacks row 1 (line 3) of the session's record" in refused.stderr
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "refs/autoresearch/t/keep")
    assert session("repair").returncode == 0
    assert session("try", "-m", "second discard").stdout.startswith("discard")
    assert git(repo, "rev-parse", "refs/autoresearch/t/exp/1") == first
    assert git(repo, "log", "-1", "--format=%s", "refs/autoresearch/t/exp/2") == "second discard"


# Git, as the tool finds it on PATH, noting when a command of the tool found the index locked.
GIT_NOTING_THE_LOCK = """\
#!/bin/sh
errors=$(mktemp)
{git} "$@" 2>"$errors"
code=$?
grep -q index.lock "$errors" && touch {seen}
cat "$errors" >&2
rm -f "$errors"
exit $code
"""


def test_another_git_holding_the_index_for_a_moment_is_waited_out(
    repo: Path, session: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_train(repo, 0.5)
    seen = tmp_path / "lock-seen"
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(GIT_NOTING_THE_LOCK.format(git=shutil.which("git"), seen=seen))
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    tool = session.popen("try", "-m", "while an editor runs git status")
    wait_for(seen.exists, "the tool to find the index locked")
    lock.unlink()
    out, err = tool.communicate()
    assert tool.returncode == 0 and out.startswith("keep"), err


def test_a_stale_index_lock_is_reported_and_nothing_is_committed(repo: Path, session: Cli) -> None:
    keep = keep_ref(repo)
    write_train(repo, 0.5)
    (repo / ".git" / "index.lock").write_text("")
    result = session("try", "-m", "blocked")
    assert result.returncode == 1 and "index.lock" in result.stderr
    assert git(repo, "rev-parse", "HEAD") == keep
    assert "VALUE = 0.5" in (repo / "train.py").read_text()
    assert len(ledger_lines(repo)) == 2


def test_a_description_that_is_not_utf8_is_recorded_not_fatal(repo: Path, session: Cli) -> None:
    write_train(repo, 0.5)
    typed_in_latin1 = [sys.executable, "-m", "autoresearch", "try", "-m", b"caf\xe9 trick"]
    result = subprocess.run(typed_in_latin1, cwd=repo, capture_output=True)
    assert result.returncode == 0 and result.stdout.startswith(b"keep"), result.stderr
    assert ledger_lines(repo)[-1][-2:] == ["keep", "caf\ufffd trick"]
    assert session("status").returncode == 0


def test_nothing_to_try_is_refused(repo: Path, session: Cli) -> None:
    result = session("try", "-m", "nothing")
    keep = keep_ref(repo)[:7]
    assert result.returncode == 2
    assert result.stderr == f"autoresearch: nothing to try: no change from the keep ref {keep}\n"
    write_train(repo, 1.5)
    git(repo, "commit", "-qam", "the agent's own commit")
    assert session("try", "-m", "worse").stdout.startswith("discard")
    git(repo, "reset", "-q", "--hard", "refs/autoresearch/t/exp/1")  # back onto the tried one
    again = session("try", "-m", "again")
    assert again.returncode == 2 and "was already tried (discard)" in again.stderr
    assert len(ledger_lines(repo)) == 3


def test_the_run_sees_the_session_environment(repo: Path, cli: Cli) -> None:
    (repo / "train.py").write_text(
        "import os\n"
        "for k in ('TAG', 'COMMIT', 'BUDGET', 'EXPERIMENT'):\n"
        "    print(k, os.environ['AUTORESEARCH_' + k])\n"
        "print('val_bpb: 1')\n"
    )
    git(repo, "commit", "-qam", "env")
    cli.init("--budget", "30")
    log = (repo / "run.log").read_text()
    assert "TAG t\n" in log and "BUDGET 30\n" in log and "EXPERIMENT 0\n" in log
    assert f"COMMIT {git(repo, 'rev-parse', 'HEAD')}\n" in log


def test_timeout_kills_the_run_and_is_a_crash(repo: Path, cli: Cli) -> None:
    cli.init("--timeout", "1")
    write_train(repo, 0.5, SLEEP=FOREVER)
    result = cli("try", "-m", "slow")  # and not after FOREVER: the test would fail first
    assert result.stdout.startswith("crash") and "timeout after 1 s" in result.stdout


def test_missing_metric_is_a_crash_with_the_reason(repo: Path, session: Cli) -> None:
    (repo / "train.py").write_text("print('val_bpb: nan')\nprint('peak_vram_mb: 1')\n")
    result = session("try", "-m", "diverged")
    assert result.stdout.startswith("crash") and "value is nan" in result.stdout


def test_a_crash_in_json_carries_the_log_tail(repo: Path, session: Cli) -> None:
    (repo / "train.py").write_text("print('loading')\nraise SystemExit('CUDA out of memory')\n")
    data = json.loads(session("try", "-m", "too big", "--json").stdout)
    assert (data["status"], data["reason"]) == ("crash", "exit 1")
    assert data["tail"] == ["loading", "CUDA out of memory"]
    write_train(repo, 0.5)
    assert json.loads(session("try", "-m", "fixed", "--json").stdout)["tail"] == []


def test_lock_refuses_a_second_command_and_names_the_pid(
    repo: Path, session: Cli, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    write_train(repo, 0.5, GO=str(go))
    first = session.popen("try", "-m", "slow one")
    wait_for_run(repo, first)
    second = session("try", "-m", "impatient")
    assert second.returncode == 2
    assert f"pid {first.pid}" in second.stderr and "running" in second.stderr
    status = session("status")
    assert "running: experiment 1" in status.stdout
    go.touch()
    first.wait(timeout=EVENT_DEADLINE)
    assert len(ledger_lines(repo)) == 3


def test_python_dash_m_and_version(repo: Path, cli: Cli) -> None:
    import autoresearch

    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"autoresearch {autoresearch.__version__}"


def test_try_loads_neither_the_optional_extras_nor_the_upper_layers(
    repo: Path, session: Cli
) -> None:
    """Agents call `try` hundreds of times a night: numpy, optuna or matplotlib would each add
    tenths of a second to every call, and the loop, reports and history are not its business.
    (The time `try` takes is measured by bench/overhead.py, as a ratio to the bare git floor.)"""
    write_train(repo, 0.9)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "autoresearch", "try", "-m", "lean"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=EVENT_DEADLINE,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("keep ")
    loaded = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"autoresearch.engine.step", "autoresearch.engine.measure"} <= loaded
    assert not loaded & {"numpy", "optuna", "matplotlib", "statistics", "tomllib", "asyncio"}
    # Each a millisecond or more of every call, for what only init, --eval or a failure needs.
    assert not loaded & {"shutil", "tempfile", "autoresearch.engine.evaluation"}
    upper = {
        name for name in loaded if name.startswith(("autoresearch.loop", "autoresearch.history"))
    }
    assert not upper and "autoresearch.reports.summary" not in loaded


def test_a_run_that_touches_a_tracked_file_without_changing_it_is_discarded_cleanly(
    repo: Path, session: Cli
) -> None:
    # git stash create exits 1 in silence when a file's times moved but not its content.
    write_train(repo, 1.5)
    with (repo / "train.py").open("a") as train:
        train.write("import os, time\ntime.sleep(0.01)\nos.utime('README.md')\n")
    result = session("try", "-m", "touches README")
    assert result.returncode == 0 and result.stdout.startswith("discard"), result.stderr
