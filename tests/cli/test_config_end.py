"""`config` fixes a session's run settings, `end` leaves it, `import` needs no run command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from support import Cli, git, ledger_lines, write_train


def test_config_changes_the_run_and_status_shows_from_which_experiment(
    repo: Path, cli: Cli
) -> None:
    assert cli.init("--budget", "30").returncode == 0
    write_train(repo, 0.5)
    assert cli("try", "-m", "better").stdout.startswith("keep")
    (repo / "other.py").write_text('print("val_bpb: 0.25")\n')  # untracked, out of scope
    changed = cli("config", "run", f"{sys.executable} other.py")
    assert changed.returncode == 0, changed.stderr
    assert "from experiment 2" in changed.stdout
    assert cli("config", "budget", "none").returncode == 0
    write_train(repo, 0.4)
    tried = cli("try", "-m", "measured by the new command")
    assert tried.stdout.startswith("keep") and "val_bpb 0.250000" in tried.stdout
    status = cli("status").stdout
    assert "changed run: " in status and "other.py from experiment 2" in status
    assert "changed budget: 30 -> none from experiment 2" in status
    data = json.loads(cli("status", "--json").stdout)
    assert [c["key"] for c in data["changes"]] == ["run", "budget"]
    assert data["budget"] is None


def test_config_refuses_the_metric_direction_and_bad_values_changing_nothing(
    repo: Path, cli: Cli
) -> None:
    assert cli.init("--budget", "30").returncode == 0
    session = repo / ".autoresearch/t/session.json"
    before = session.read_text()
    for args, reason in [
        (("metric", "loss"), "metric defines the session"),
        (("direction", "max"), "direction defines the session"),
        (("scope", "*.py"), "cannot be changed in a session"),
        (("budget", "-1"), "budget must be a positive number"),
        (("pattern", "no group"), "capture group"),
    ]:
        result = cli("config", *args)
        assert result.returncode == 2 and reason in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert session.read_text() == before
    assert cli("config", "budget").stdout.strip() == "30"


def test_end_goes_back_to_the_start_keeping_everything_and_init_starts_there(
    repo: Path, cli: Cli
) -> None:
    start = git(repo, "rev-parse", "HEAD")
    assert cli.init().returncode == 0
    write_train(repo, 0.5)
    assert cli("try", "-m", "better").stdout.startswith("keep")
    write_train(repo, 0.9)  # an edit left uncommitted
    keep = git(repo, "rev-parse", "refs/autoresearch/t/keep")
    ended = cli("end")
    assert ended.returncode == 0, ended.stderr
    assert "now on main" in ended.stdout
    assert "ledger parked at .autoresearch/t/results.tsv" in ended.stdout
    assert "uncommitted work kept at refs/autoresearch/t/abandoned/1" in ended.stdout
    assert git(repo, "branch", "--show-current") == "main"
    assert git(repo, "rev-parse", "HEAD") == start
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / "results.tsv").exists()
    assert git(repo, "rev-parse", "refs/autoresearch/t/keep") == keep
    assert git(repo, "rev-parse", "autoresearch/t") == keep
    assert "0.9" in git(repo, "show", "refs/autoresearch/t/abandoned/1:train.py")
    parked = (repo / ".autoresearch/t/results.tsv").read_text().splitlines()
    assert len(parked) == 3

    again = cli.init(tag="u")
    assert again.returncode == 0, again.stderr
    assert git(repo, "rev-parse", "autoresearch/u~0") == start  # from the original commit
    assert ledger_lines(repo)[1][1] == "1.000000"

    git(repo, "checkout", "-q", "autoresearch/t")  # the ended session can be picked up again
    assert json.loads(cli("status", "--json").stdout)["best"] == 0.5


def test_import_without_a_run_command_shows_the_history_and_try_asks_for_one(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    source = tmp_path / "elsewhere.tsv"
    source.write_text(
        "commit\tval_bpb\tstatus\tdescription\n"
        "baseline\t1.5\tkeep\tbaseline\n"
        "bea057b\t1.2\tkeep\thalve batch\n"
    )
    imported = cli("import", str(source), "--tag", "k")
    assert imported.returncode == 0, imported.stderr
    assert "`autoresearch config run CMD` before" in imported.stdout
    assert json.loads(cli("status", "--json").stdout)["best"] == 1.2
    assert cli("report", "--format", "md").returncode == 0
    write_train(repo, 0.5)
    refused = cli("try", "-m", "better")
    assert refused.returncode == 2
    assert "has no run command: set one with `autoresearch config run CMD`" in refused.stderr
    assert git(repo, "status", "--porcelain") == "M train.py"  # the edit is untouched
    assert cli("config", "run", f"{sys.executable} train.py").returncode == 0
    assert cli("try", "-m", "better").stdout.startswith("keep")
