"""A keep forged through the tool's own files, as an agent with the user's shell would: the record
holds only the rows and runs the tool wrote, so the forgery is named, refused and repaired, and
`finalize` and `audit` refuse a keep whose runs the record does not hold."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from support import Cli, git, ledger_lines, write_train

JOURNAL = "refs/autoresearch/t/journal"
KEEP = "refs/autoresearch/t/keep"
STATE = Path(".autoresearch/t")


@pytest.fixture
def session(kept_session: Cli) -> Cli:
    return kept_session


def forge_keep(repo: Path, in_flight: bool) -> str:
    """Commit a worse change, append a keep row and a run for it, move the keep ref to it (and,
    with ``in_flight``, leave an in-flight file naming it, as a kill of the tool would)."""
    keep = git(repo, "rev-parse", KEEP)
    write_train(repo, 6.0)  # six times worse than the baseline, never measured
    git(repo, "commit", "-qam", "unmeasured")
    forged = git(repo, "rev-parse", "HEAD")
    number = len(ledger_lines(repo)) - 1
    with open(repo / "results.tsv", "a") as ledger:
        ledger.write(f"{forged[:7]}\t0.000100\t1\t\t1.0\t\t\tkeep\tforged\n")
    with open(repo / STATE / "runs.jsonl", "a") as runs:
        run = {"experiment": number, "commit": forged, "run": 0, "value": 0.0001}
        runs.write(json.dumps(run) + "\n")
    git(repo, "update-ref", KEEP, forged)
    if in_flight:
        inflight = {"experiment": number, "commit": forged, "keep": keep, "description": "x"}
        (repo / STATE / "inflight.json").write_text(json.dumps(inflight))
    return forged


def refused(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize("in_flight", [False, True], ids=["appended", "as if in flight"])
def test_a_forged_keep_is_named_repaired_and_never_shipped(
    repo: Path, session: Cli, in_flight: bool
) -> None:
    real_keep = git(repo, "rev-parse", KEEP)
    forged = forge_keep(repo, in_flight)
    write_train(repo, 0.7)
    error = refused(session, "try", "-m", "after the forgery")
    assert "results.tsv row 2 (line 4)" in error
    assert f"the keep ref was moved outside autoresearch: to {forged[:7]}" in error
    status = session("status")
    assert "record: results.tsv row 2 (line 4)" in status.stdout
    assert json.loads(session("status", "--json").stdout)["best"] == 0.8
    assert "row 2 (line 4)" in refused(session, "finalize")
    repaired = session("repair")
    assert repaired.returncode == 0, repaired.stderr
    assert git(repo, "rev-parse", KEEP) == real_keep
    rows = {row[0]: row[-2] for row in ledger_lines(repo)[1:]}
    # The in-flight file names no experiment the record began: set aside, never finished.
    assert forged[:7] not in rows
    assert "0.0001" not in (repo / STATE / "runs.jsonl").read_text()
    assert not (repo / STATE / "inflight.json").exists()
    assert "nothing to repair" in session("repair").stdout
    assert session("finalize").returncode == 0
    final = git(repo, "rev-parse", "autoresearch/t-final^{tree}")
    assert final == git(repo, "rev-parse", f"{real_keep}^{{tree}}")
    assert git(repo, "rev-parse", f"{forged}^{{tree}}") != final


def _digest(path: Path) -> list[object]:
    data = path.read_bytes()
    return [len(data), hashlib.blake2b(data, digest_size=32).hexdigest()]


def forge_entry(repo: Path, number: int, keep: str, row: str) -> None:
    """A journal commit made by hand, with hashes that match the files: what the record cannot
    tell from its own, short of the runs."""
    tip = json.loads(git(repo, "log", "-1", "--format=%B", JOURNAL).split("\n\n", 1)[1])
    entry = {
        "kind": "experiment",
        "experiment": number,
        "status": "keep",
        "keep": keep,
        "ledger": _digest(repo / "results.tsv"),
        "runs": _digest(repo / STATE / "runs.jsonl"),
        "session": tip["session"],
        "ledger_added": row,
        "runs_added": "",
    }
    message = f"autoresearch t: experiment {number} keep\n\n{json.dumps(entry, sort_keys=True)}\n"
    tree = git(repo, "rev-parse", f"{JOURNAL}^{{tree}}")
    parent = git(repo, "rev-parse", JOURNAL)
    commit = git(repo, "commit-tree", tree, "-p", parent, "-m", message)
    git(repo, "update-ref", JOURNAL, commit, parent)


def test_finalize_and_audit_refuse_a_keep_the_record_holds_no_runs_of(
    repo: Path, session: Cli
) -> None:
    write_train(repo, 6.0)
    git(repo, "commit", "-qam", "unmeasured")
    forged = git(repo, "rev-parse", "HEAD")
    cells = {"commit": forged[:7], "val_bpb": "0.000100", "runs": "1", "seconds": "1.0"}
    cells |= {"status": "keep", "description": "forged"}
    row = "\t".join(cells.get(name, "") for name in ledger_lines(repo)[0]) + "\n"
    with open(repo / "results.tsv", "a") as ledger:
        ledger.write(row)
    git(repo, "update-ref", KEEP, forged)
    forge_entry(repo, len(ledger_lines(repo)) - 2, forged, row)
    assert "record:" not in session("status").stdout  # the hashes match: detection stops here
    branches = git(repo, "branch", "--list")
    for command in (("finalize",), ("audit", "--runs", "2")):
        error = refused(session, *command)
        assert f"the keep {forged[:7]} has no runs in the session's record" in error
    assert git(repo, "branch", "--list") == branches
    assert git(repo, "rev-parse", KEEP) == forged
