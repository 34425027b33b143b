"""An in-flight file forged or edited by hand, as an agent with the user's shell could leave it
to look like a kill of the tool: recovery finishes only an experiment the record began, as the
record has it, so nothing forged reaches `results.tsv`, `status` or the record."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support import FOREVER, Cli, git, ledger_lines, wait_for_run, write_train

from autoresearch.store.runner import carrying

JOURNAL = "refs/autoresearch/t/journal"
KEEP = "refs/autoresearch/t/keep"
INFLIGHT = Path(".autoresearch/t/inflight.json")
RUNS = Path(".autoresearch/t/runs.jsonl")
FORGED_VALUE = "0.000100"


@pytest.fixture
def session(kept_session: Cli) -> Cli:
    return kept_session


def kill_mid_run(repo: Path, session: Cli, value: float = 0.5) -> dict[str, Any]:
    """A real kill of `try` while its run goes; returns the in-flight file it left."""
    write_train(repo, value, SLEEP=FOREVER)
    tool = session.popen("try", "-m", "killed")
    wait_for_run(repo, tool)
    tool.send_signal(signal.SIGKILL)
    tool.wait()
    return json.loads((repo / INFLIGHT).read_text())


def unmeasured_commit(repo: Path) -> str:
    """A worse commit on the keep ref that the tool never ran."""
    write_train(repo, 6.0)
    git(repo, "commit", "-qam", "unmeasured")
    commit = git(repo, "rev-parse", "HEAD")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    return commit


def forge_keep_row(repo: Path, number: int, commit: str) -> dict[str, Any]:
    """A keep row and its run appended, as the tool would write them; what an in-flight file
    would name of them."""
    row = f"{commit[:7]}\t{FORGED_VALUE}\t1\t\t1.0\t\t\tkeep\tforged"
    with open(repo / "results.tsv", "a") as ledger:
        ledger.write(f"{row}\n")
    with open(repo / RUNS, "a") as runs:
        runs.write(json.dumps({"experiment": number, "commit": commit, "run": 0, "value": 1e-4}))
        runs.write("\n")
    return {"row": row, "status": "keep", "values": [1e-4]}


def made_up(repo: Path, session: Cli) -> None:
    """No kill at all: a file written from scratch, naming an entry of the record."""
    forged = unmeasured_commit(repo)
    number = len(ledger_lines(repo)) - 1
    tip = git(repo, "rev-parse", JOURNAL)
    inflight = {"experiment": number, "commit": forged, "keep": git(repo, "rev-parse", KEEP)}
    inflight |= {"description": "forged", "entry": tip, "started": 0, "group": None}
    inflight |= forge_keep_row(repo, number, forged)
    git(repo, "update-ref", KEEP, forged)
    (repo / INFLIGHT).write_text(json.dumps(inflight))


def made_up_parallel(repo: Path, session: Cli) -> None:
    """As ``made_up``, as one of a parallel loop's experiments on a worker."""
    made_up(repo, session)
    inflight = json.loads((repo / INFLIGHT).read_text()) | {"worker": "worktree0"}
    (repo / INFLIGHT).unlink()
    folder = repo / INFLIGHT.parent / "inflight"
    folder.mkdir()
    (folder / f"{inflight['experiment']}.json").write_text(json.dumps(inflight))


def another_commit(repo: Path, session: Cli) -> None:
    """A real kill, then the file names a commit of the agent's instead of the one run."""
    inflight = kill_mid_run(repo, session)
    forged = unmeasured_commit(repo)
    inflight["commit"] = forged
    inflight |= forge_keep_row(repo, inflight["experiment"], forged)
    git(repo, "update-ref", KEEP, forged)
    (repo / INFLIGHT).write_text(json.dumps(inflight))


def replayed(repo: Path, session: Cli) -> None:
    """The file of an experiment the record has finished since, put back: it is taken for
    that experiment, as the record has it (a crash), and the row forged beside it is named."""
    old = kill_mid_run(repo, session)
    assert session("reset").returncode == 0  # recorded as a crash
    old |= forge_keep_row(repo, old["experiment"], old["commit"])
    (repo / INFLIGHT).write_text(json.dumps(old))


NOT_IN_FLIGHT = "which the session's record does not have in flight"
SET_ASIDE = "in-flight file of experiment"
ROW_NAMED = "results.tsv row 3 (line 5) is not in the session's record"


@pytest.mark.parametrize(
    ("forge", "refusal", "repaired_note"),
    [
        (made_up, NOT_IN_FLIGHT, SET_ASIDE),
        (made_up_parallel, NOT_IN_FLIGHT, SET_ASIDE),
        (another_commit, NOT_IN_FLIGHT, SET_ASIDE),
        (replayed, ROW_NAMED, "results.tsv restored"),
    ],
    ids=["made up", "made up, parallel", "another commit", "replayed"],
)
def test_an_in_flight_file_the_record_did_not_begin_is_refused_and_set_aside(
    repo: Path, session: Cli, forge: Any, refusal: str, repaired_note: str
) -> None:
    real_keep = git(repo, "rev-parse", KEEP)
    forge(repo, session)
    tip = git(repo, "rev-parse", JOURNAL)
    ledger = (repo / "results.tsv").read_text()
    write_train(repo, 0.7)
    for command in (("try", "-m", "after the forgery"), ("reset",), ("finalize",)):
        result = session(*command)
        assert result.returncode == 2, result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert refusal in result.stderr
    # Refused before anything was recorded or finished.
    assert git(repo, "rev-parse", JOURNAL) == tip
    assert (repo / "results.tsv").read_text() == ledger
    status = session("status")
    assert "record: " in status.stdout and refusal in status.stdout
    shown = json.loads(session("status", "--json").stdout)
    assert shown["best"] == 0.8 and shown["running"] is None
    repaired = session("repair")
    assert repaired.returncode == 0, repaired.stderr
    assert repaired_note in repaired.stdout
    assert not (repo / INFLIGHT).exists()
    assert not list((repo / INFLIGHT.parent).glob("inflight/*.json"))
    assert git(repo, "rev-parse", KEEP) == real_keep
    assert FORGED_VALUE not in (repo / "results.tsv").read_text()
    assert "0.0001" not in git(repo, "log", "--format=%B", JOURNAL)
    assert session("try", "-m", "after repair").stdout.startswith("keep")


def test_a_metric_or_log_written_into_a_real_in_flight_file_is_not_taken(
    repo: Path, session: Cli
) -> None:
    inflight = kill_mid_run(repo, session)
    number, commit = inflight["experiment"], inflight["commit"]
    # The verdict, the row and the runs a kill after the row once left in the file, and a log
    # of the agent's that says the metric was tiny.
    fake_log = repo.parent / "fake.log"
    fake_log.write_text(f"val_bpb: {FORGED_VALUE}\n")
    inflight |= forge_keep_row(repo, number, commit) | {"log": str(fake_log)}
    (repo / INFLIGHT).write_text(json.dumps(inflight))
    result = session("reset")
    # The experiment is what the record began, cut short: a crash; the appended row is named.
    assert result.returncode == 2
    assert "results.tsv row 2 (line 4) differs from the session's record" in result.stderr
    recorded = [
        json.loads(message.split("\n\n", 1)[1])
        for message in git(repo, "log", "--format=%B%x00", JOURNAL).split("\0")
        if message.strip()
    ]
    assert (recorded[0]["experiment"], recorded[0]["status"]) == (number, "crash")
    assert git(repo, "rev-parse", KEEP) != commit
    assert session("repair").returncode == 0
    rows = [(row[0], row[-2]) for row in ledger_lines(repo)[1:]]
    assert rows[-1] == (commit[:7], "crash") and FORGED_VALUE not in str(rows)
    assert json.loads(session("status", "--json").stdout)["best"] == 0.8


def test_a_process_group_or_file_modes_written_into_a_real_in_flight_file_are_not_acted_on(
    repo: Path, session: Cli
) -> None:
    inflight = kill_mid_run(repo, session)
    bystander = subprocess.Popen(["sleep", str(FOREVER)], start_new_session=True)
    private = repo.parent / "private.txt"  # a file of the user's, outside the repository
    private.write_text("mine\n")
    private.chmod(0o600)
    try:
        inflight["group"] = bystander.pid
        inflight["modes"] = {**inflight.get("modes", {}), "../private.txt": 0o666}
        (repo / INFLIGHT).write_text(json.dumps(inflight))
        result = session("reset")
        assert result.returncode == 0, result.stderr
        assert "interrupted: recorded as crash" in result.stderr
        assert bystander.poll() is None  # the user's own process, never the run's
        assert carrying(inflight["run_id"]) == []  # the run itself is stopped, by its id
        assert private.stat().st_mode & 0o777 == 0o600  # only protected files' modes
    finally:
        bystander.kill()
        bystander.wait()
