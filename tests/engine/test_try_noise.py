"""`try` on a noisy metric: one run far outside the noise is measured again, not judged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import Cli, git, ledger_rows

# Prints VALUE plus the next of the offsets the test planned, one per run, counting its runs in
# a file beside the plan: the test decides, run by run, what the metric shows.
NOISY_TRAIN = """\
import json, pathlib
VALUE = {value}
plan = pathlib.Path({plan!r})
count = pathlib.Path({plan!r} + ".count")
made = int(count.read_text()) if count.exists() else 0
count.write_text(str(made + 1))
print(f"val_bpb: {{VALUE + json.loads(plan.read_text())[made]:.6f}}")
"""


def noisy_project(tmp_path: Path, repo: Path, offsets: list[float]) -> Path:
    plan = tmp_path / "offsets.json"
    plan.write_text(json.dumps(offsets))
    (repo / "train.py").write_text(NOISY_TRAIN.format(value=1.0, plan=str(plan)))
    git(repo, "commit", "-qam", "a noisy metric")
    return plan


def tried(repo: Path, cli: Cli, value: float) -> dict[str, Any]:
    """The session begun (its baseline measured three times), then ``try`` of VALUE set to
    ``value``:
    the experiment as `try --json` gives it."""
    assert cli.init().returncode == 0
    text = (repo / "train.py").read_text()
    (repo / "train.py").write_text(text.replace("VALUE = 1.0", f"VALUE = {value}"))
    result = cli("try", "-m", f"VALUE {value}", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_load_spike_on_a_good_candidates_first_run_is_measured_again_and_kept(
    tmp_path: Path, repo: Path, cli: Cli
) -> None:
    # The baseline three times (noise of about 0.002), then the candidate: one spike 0.5 worse,
    # then two runs 0.05 better than the baseline, each after a run of the keep ref.
    plan = noisy_project(tmp_path, repo, [0.0, 0.002, 0.001, 0.5, 0.0, 0.0, 0.001, 0.001])
    experiment = tried(repo, cli, 0.95)
    assert experiment["status"] == "keep", experiment["reason"]
    assert experiment["reason"].endswith("; 1 run far outside the noise set aside")
    assert experiment["value"] == pytest.approx(0.9505)  # the mean of the runs within the noise
    assert (Path(str(plan) + ".count")).read_text() == "8"  # every planned run was made
    row = ledger_rows(repo)[-1]
    assert (row["status"], row["runs"]) == ("keep", "3")


def test_a_candidate_that_is_far_worse_run_after_run_is_still_discarded(
    tmp_path: Path, repo: Path, cli: Cli
) -> None:
    noisy_project(tmp_path, repo, [0.0, 0.002, 0.001, 0.0, 0.0, 0.001])
    experiment = tried(repo, cli, 1.5)
    assert experiment["status"] == "discard"
    assert "set aside" not in experiment["reason"]
    assert ledger_rows(repo)[-1]["runs"] == "2"  # measured again once, then judged


def test_a_run_that_rewrites_its_own_code_cannot_fake_its_repeats(
    tmp_path: Path, repo: Path, cli: Cli
) -> None:
    # After its first run the candidate rewrites train.py, in the tree it runs in, to print a
    # number far better than anything it measures: its repeats would show that, not the commit.
    plan = tmp_path / "offsets.json"
    # The baseline three times; the candidate's first run 0.99, then the keep ref at 1.0 and the
    # candidate's own code at 1.01, as often as it is run again.
    plan.write_text(json.dumps([0.0, 0.002, 0.001, 0.09] + [0.0, 0.11] * 6))
    cheat = "if VALUE != 1.0:\n    pathlib.Path('train.py').write_text(\"print('val_bpb: 0.5')\")\n"
    (repo / "train.py").write_text(NOISY_TRAIN.format(value=1.0, plan=str(plan)) + cheat)
    git(repo, "commit", "-qam", "a noisy metric")
    experiment = tried(repo, cli, 0.9)
    assert experiment["status"] == "discard", experiment["reason"]
    runs = [json.loads(line) for line in (repo / ".autoresearch/t/runs.jsonl").open()]
    assert 0.5 not in [run["value"] for run in runs]  # every run measured the commit
    assert any("kept at refs/autoresearch/t/abandoned/" in note for note in experiment["notes"])
