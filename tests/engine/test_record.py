"""The session's record in git: what an agent changes in the books is refused, named, and put
back by `repair`; a kill of the tool still recovers; an older session gets a record."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from git_shim import signal_when_ref_moves
from support import (
    FOREVER,
    Cli,
    git,
    ledger_lines,
    wait_for_run,
    write_train,
)

JOURNAL = "refs/autoresearch/t/journal"
KEEP = "refs/autoresearch/t/keep"
SESSION_JSON = Path(".autoresearch/t/session.json")


@pytest.fixture
def session(kept_session: Cli) -> Cli:
    return kept_session


def journal_entries(repo: Path) -> list[dict[str, object]]:
    out = git(repo, "log", "--reverse", "--format=%B%x00", JOURNAL)
    return [json.loads(m.strip().split("\n\n", 1)[1]) for m in out.split("\0") if m.strip()]


def recorded_experiments(repo: Path) -> list[object]:
    """The numbers of the experiments the record holds as judged, in order."""
    return [e["experiment"] for e in journal_entries(repo) if e["kind"] == "experiment"]


def edit_session_json(repo: Path, change) -> None:
    path = repo / SESSION_JSON
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def refused(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    return result.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["settings"].update(direction="maximize"), 'direction: "minimize" -> "maxim'),
        (lambda d: d["settings"].update(protect=[]), "settings.protect"),
    ],
    ids=["direction flipped", "protected list emptied"],
)
def test_an_edited_session_json_is_refused_and_repaired(
    repo: Path, session: Cli, change, named: str
) -> None:
    original = (repo / SESSION_JSON).read_text()
    edit_session_json(repo, change)
    edited = (repo / SESSION_JSON).read_text()
    write_train(repo, 0.7)
    error = refused(session, "try", "-m", "after the edit")
    assert "(minimize)" in session("status").stdout  # as recorded
    assert "session.json differs from the session's record" in error and named in error
    assert "autoresearch repair" in error
    assert len(ledger_lines(repo)) == 3  # nothing was run or recorded
    repaired = session("repair")
    assert "session.json restored" in repaired.stdout
    aside = repo / repaired.stdout.split("kept in ")[1].strip()
    assert (aside / "session.json").read_text() == edited
    assert (repo / SESSION_JSON).read_text() == original
    assert session("try", "-m", "after the repair").stdout.startswith("keep")


def test_a_keep_ref_moved_by_hand_is_refused_put_back_and_not_a_baseline(
    repo: Path, session: Cli
) -> None:
    real_keep = git(repo, "rev-parse", KEEP)
    write_train(repo, 6.0)  # six times worse than the baseline, never measured
    git(repo, "commit", "-qam", "unmeasured")
    unmeasured = git(repo, "rev-parse", "HEAD")
    git(repo, "update-ref", KEEP, unmeasured)
    error = refused(session, "try", "-m", "on the moved keep ref")
    assert f"the keep ref was moved outside autoresearch: to {unmeasured[:7]}" in error
    status = session("status")
    assert "record: the keep ref was moved outside autoresearch" in status.stdout
    repaired = session("repair")
    assert f"keep ref put back to {real_keep[:7]}" in repaired.stdout
    assert git(repo, "rev-parse", KEEP) == real_keep
    assert git(repo, "rev-parse", "refs/autoresearch/t/abandoned/1") == unmeasured
    write_train(repo, 1.2)  # worse than the real best (0.8), far better than the moved one
    result = session("try", "-m", "judged against the real best")
    assert result.stdout.startswith("discard"), result.stdout + result.stderr
    assert "best 0.800000" in result.stdout
    assert git(repo, "rev-parse", KEEP) == real_keep


def test_a_forged_row_is_reported_refused_and_restored(repo: Path, session: Cli) -> None:
    ledger = repo / "results.tsv"
    original = ledger.read_text()
    forged = original.replace("0.800000", "0.000100")
    ledger.write_text(forged)
    status = session("status")
    assert "record: results.tsv row 1 (line 3) differs from the session's record" in status.stdout
    data = json.loads(session("status", "--json").stdout)
    assert data["record"] and "row 1 (line 3)" in data["record"][0]
    assert data["best"] == 0.8  # the record's numbers, not the forged ones
    write_train(repo, 0.5)
    assert "results.tsv row 1 (line 3) differs" in refused(session, "try", "-m", "x")
    assert ledger.read_text() == forged
    repaired = session("repair")
    assert "results.tsv restored" in repaired.stdout
    assert ledger.read_text() == original
    aside = repo / repaired.stdout.split("kept in ")[1].strip()
    assert (aside / "results.tsv").read_text() == forged
    assert "record:" not in session("status").stdout
    assert "best was 0.800000" in session("try", "-m", "after the repair").stdout


def test_an_edited_run_record_is_refused(repo: Path, session: Cli) -> None:
    runs = repo / ".autoresearch/t/runs.jsonl"
    runs.write_text(runs.read_text().replace("0.8", "0.0001"))
    write_train(repo, 0.5)
    assert "runs.jsonl line 4 differs" in refused(session, "try", "-m", "x")
    assert session("repair").returncode == 0
    assert "0.0001" not in runs.read_text()


def test_a_deleted_ledger_is_rebuilt_the_same(repo: Path, session: Cli) -> None:
    ledger = repo / "results.tsv"
    original = ledger.read_bytes()
    ledger.unlink()
    write_train(repo, 0.5)
    assert "results.tsv is missing" in refused(session, "try", "-m", "x")
    status = session("status")
    assert "record: results.tsv is missing" in status.stdout and "best 0.8 " in status.stdout
    repaired = session("repair")
    assert "results.tsv rebuilt" in repaired.stdout and "kept in" not in repaired.stdout
    assert ledger.read_bytes() == original
    assert session("try", "-m", "after the rebuild").stdout.startswith("keep")


def test_repair_without_changes_says_so(session: Cli) -> None:
    assert "nothing to repair" in session("repair").stdout


def test_every_experiment_is_an_entry_of_the_record(repo: Path, session: Cli) -> None:
    write_train(repo, 0.9)
    session("try", "-m", "worse")
    entries = journal_entries(repo)
    # Each experiment is begun in the record before it runs, and recorded once judged.
    kinds = [e["kind"] for e in entries]
    assert kinds == ["start", *["begin", "experiment"] * 3]
    assert [e.get("status") for e in entries[2::2]] == ["keep", "keep", "discard"]
    assert "".join(str(e["ledger_added"]) for e in entries) == (repo / "results.tsv").read_text()
    assert entries[-1]["keep"] == git(repo, "rev-parse", KEEP)
    shown = git(repo, "show", f"{JOURNAL}:session.json")
    assert shown == (repo / SESSION_JSON).read_text()
    git(repo, "fsck", "--no-dangling")


def test_a_rewind_is_recorded_and_not_refused(repo: Path, session: Cli) -> None:
    baseline = ledger_lines(repo)[1][0]
    assert session("rewind", baseline).returncode == 0
    assert journal_entries(repo)[-1]["kind"] == "rewind"
    write_train(repo, 0.9)
    assert session("try", "-m", "after rewind").stdout.startswith("keep")


def test_a_tool_killed_mid_run_still_recovers(repo: Path, session: Cli) -> None:
    write_train(repo, 0.5, SLEEP=FOREVER)
    tool = session.popen("try", "-m", "killed")
    wait_for_run(repo, tool)
    tool.send_signal(signal.SIGKILL)
    tool.wait()
    assert "record:" not in session("status").stdout  # in flight, not a difference
    result = session("reset")
    assert result.returncode == 0, result.stderr
    assert "interrupted: recorded as crash" in result.stderr
    last = journal_entries(repo)[-1]
    assert (last["experiment"], last["status"]) == (2, "crash")
    assert "nothing to repair" in session("repair").stdout


def test_a_kill_as_the_keep_ref_moves_is_recorded_once(
    repo: Path, session: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real kill after the record's entry, the row and the keep ref.
    marker = signal_when_ref_moves(repo, monkeypatch, KEEP, signal.SIGKILL)
    write_train(repo, 0.5)
    assert session("try", "-m", "better").returncode == -signal.SIGKILL
    assert marker.exists()
    candidate = git(repo, "rev-parse", "refs/autoresearch/t/exp/2")
    assert git(repo, "rev-parse", KEEP) == candidate
    assert recorded_experiments(repo) == [0, 1, 2]
    result = session("reset")
    assert result.returncode == 0, result.stderr
    assert "was keep; finished what the interrupted command left undone" in result.stderr
    assert recorded_experiments(repo) == [0, 1, 2]
    assert journal_entries(repo)[-1]["keep"] == candidate
    assert "nothing to repair" in session("repair").stdout


def test_a_kill_between_the_entry_and_the_row_writes_the_row_the_record_holds(
    repo: Path, session: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real kill as the record takes the verdict (its second move: the first began the run),
    # before the ledger has the row or the keep ref moved.
    marker = signal_when_ref_moves(repo, monkeypatch, JOURNAL, signal.SIGKILL, moves=2)
    keep = git(repo, "rev-parse", KEEP)
    write_train(repo, 0.5)
    assert session("try", "-m", "better").returncode == -signal.SIGKILL
    assert marker.exists()
    assert len(ledger_lines(repo)) == 3 and git(repo, "rev-parse", KEEP) == keep
    assert recorded_experiments(repo) == [0, 1, 2]
    result = session("status")
    assert "record:" not in result.stdout, result.stdout  # in flight, not a difference
    result = session("reset")
    assert result.returncode == 0, result.stderr
    assert "was keep; finished what the interrupted command left undone" in result.stderr
    candidate = git(repo, "rev-parse", "refs/autoresearch/t/exp/2")
    assert ledger_lines(repo)[-1][0] == candidate[:7] and ledger_lines(repo)[-1][-2] == "keep"
    assert git(repo, "rev-parse", KEEP) == candidate
    assert recorded_experiments(repo) == [0, 1, 2]
    assert "nothing to repair" in session("repair").stdout


def test_a_session_older_than_the_record_starts_one_once(repo: Path, session: Cli) -> None:
    git(repo, "update-ref", "-d", JOURNAL)
    edit_session_json(repo, lambda d: d.pop("recorded"))
    assert "no record in git yet" in session("status").stdout
    write_train(repo, 0.7)
    first = session("try", "-m", "first with a record")
    assert first.stdout.startswith("keep") and "its record starts now" in first.stderr
    write_train(repo, 0.6)
    second = session("try", "-m", "second")
    assert second.stdout.startswith("keep") and "record" not in second.stderr
    assert recorded_experiments(repo) == [2, 3]
    assert journal_entries(repo)[0]["kind"] == "start"
    (repo / "results.tsv").write_text((repo / "results.tsv").read_text().replace("0.7", "0.1"))
    assert "differs from the session's record" in refused(session, "try", "-m", "x")


def test_a_deleted_record_is_refused_until_repair_starts_a_new_one(
    repo: Path, session: Cli
) -> None:
    git(repo, "update-ref", "-d", JOURNAL)
    write_train(repo, 0.7)
    assert f"the session's record {JOURNAL} is missing" in refused(session, "try", "-m", "x")
    assert "its record starts now" in session("repair").stdout
    assert session("try", "-m", "x").stdout.startswith("keep")


# Edits train.py as told, and on the call named by FORGE_AT forges the best row of the ledger.
FORGING_AGENT = """\
import os, pathlib, re, sys
calls = pathlib.Path(sys.argv[1])
call = int(calls.read_text()) if calls.exists() else 0
calls.write_text(str(call + 1))
text = pathlib.Path("train.py").read_text()
pathlib.Path("train.py").write_text(re.sub(r"VALUE = .*", f"VALUE = {0.7 - call / 10}", text))
if call == 1:
    ledger = pathlib.Path("results.tsv")
    ledger.write_text(ledger.read_text().replace("0.700000", "0.000100"))
pathlib.Path(os.environ["AUTORESEARCH_DESCRIPTION"]).write_text(f"call {call}\\n")
"""


def test_the_loop_stops_when_its_agent_touches_the_books(
    repo: Path, session: Cli, tmp_path: Path
) -> None:
    # Outside the sandbox, where an agent can write the books (inside, it cannot: see
    # test_sandbox.py).
    assert session("config", "sandbox", "off").returncode == 0
    agent = tmp_path / "forging_agent.py"
    agent.write_text(FORGING_AGENT)
    command = f"{sys.executable} {agent} {tmp_path / 'calls'}"
    result = session("loop", "--agent", "command", "--agent-cmd", command, "--max-experiments", "5")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "results.tsv row 2 (line 4) differs from the session's record" in result.stderr
    assert len(ledger_lines(repo)) == 4  # the forging turn's edit was not run


def test_the_commands_that_only_read_refuse_too(repo: Path, session: Cli) -> None:
    ledger = repo / "results.tsv"
    ledger.write_text(ledger.read_text().replace("0.800000", "0.000100"))
    for command in (("finalize",), ("report", "--format", "md")):
        assert "row 1 (line 3) differs" in refused(session, *command)
    assert not (repo / ".git/refs/heads/autoresearch/t-final").exists()


def test_init_killed_before_the_first_entry_starts_the_record_quietly(repo: Path, cli: Cli) -> None:
    assert cli.init("--no-baseline").returncode == 0
    git(repo, "update-ref", "-d", JOURNAL)  # as a kill just before the record's first entry
    result = cli("try", "-m", "baseline")
    assert result.stdout.startswith("keep"), result.stdout + result.stderr
    assert [e["kind"] for e in journal_entries(repo)] == ["start", "begin", "experiment"]


TAMPERING_RUN = """\
import pathlib
ledger = pathlib.Path("results.tsv")
ledger.write_text(ledger.read_text().replace("1.000000", "9.000000"))
print("val_bpb: 0.5")
print("peak_vram_mb: 1000")
"""


def test_a_run_that_edits_the_ledger_is_caught_by_the_next_command(
    repo: Path, session: Cli
) -> None:
    # Outside the sandbox, where the run can write the ledger (inside, it is read-only: see
    # test_sandbox.py).
    assert session("config", "sandbox", "off").returncode == 0
    (repo / "train.py").write_text(TAMPERING_RUN)
    assert session("try", "-m", "edits the books").stdout.startswith("keep")
    assert "row 0 (line 2) differs" in refused(session, "try", "-m", "next")
    assert session("repair").returncode == 0
    rows = ledger_lines(repo)
    assert rows[1][1] == "1.000000" and rows[-1][1] == "0.500000" and len(rows) == 4
    assert "nothing to repair" in session("repair").stdout
