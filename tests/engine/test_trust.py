"""Verdicts you can trust, end to end: noise, minimum gains, complexity, guardrails, the
holdout and the tamper guard, with real runs in a real repository."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support import Cli, git, ledger_lines

from autoresearch.engine.judging import STALE_AFTER_RUNS

# The metric is TRUE plus Gaussian noise drawn from the run's seed: reproducible, and noisy.
NOISY = """\
import os, random
TRUE = {true}
SIGMA = 0.01
rng = random.Random(int(os.environ.get("AUTORESEARCH_SEED", "0")))
print(f"val_bpb: {{TRUE + rng.gauss(0, SIGMA):.6f}}")
print(f"peak_vram_mb: {{int(os.environ.get('VRAM', '100'))}}")
with open("seeds.txt", "a") as handle:
    handle.write(os.environ["AUTORESEARCH_SEED"] + "\\n")
"""


def set_true(repo: Path, true: float, extra: str = "") -> None:
    (repo / "train.py").write_text(NOISY.format(true=true) + extra)


@pytest.fixture
def noisy(repo: Path, cli: Cli) -> Cli:
    set_true(repo, 1.0)
    (repo / ".gitignore").write_text("seeds.txt\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "noisy metric")
    result = cli.init("--also", "peak_vram_mb")
    assert result.returncode == 0, result.stderr
    return cli


def rows(repo: Path) -> list[dict[str, str]]:
    lines = ledger_lines(repo)
    return [dict(zip(lines[0], row, strict=True)) for row in lines[1:]]


def test_the_baseline_runs_three_times_and_status_shows_the_noise(repo: Path, noisy: Cli) -> None:
    baseline = rows(repo)[0]
    assert baseline["runs"] == "3" and float(baseline["spread"]) > 0
    assert len(set((repo / "seeds.txt").read_text().split())) == 3  # a fresh seed per run
    status = json.loads(noisy("status", "--json").stdout)
    assert status["noise"]["mode"] == "auto" and 0 < status["noise"]["sigma"] < 0.05
    assert "noise: sigma" in noisy("status").stdout


def test_clearly_worse_is_discarded_once_a_second_run_agrees(repo: Path, noisy: Cli) -> None:
    # One run this far outside the noise could be a load spike: it is measured once more.
    set_true(repo, 1.2)
    result = noisy("try", "-m", "much worse")
    assert result.stdout.startswith("discard") and "after 2 runs" in result.stdout
    assert rows(repo)[-1]["runs"] == "2"


def test_a_real_improvement_is_confirmed_with_more_runs(repo: Path, noisy: Cli) -> None:
    set_true(repo, 0.95)
    result = noisy("try", "-m", "five sigma better", "--json")
    data = json.loads(result.stdout)
    assert data["status"] == "keep" and data["runs"] >= 2 and data["spread"] > 0
    assert "lower bound" in data["reason"]
    row = rows(repo)[-1]
    assert int(row["runs"]) == data["runs"] and abs(float(row["val_bpb"]) - 0.95) < 0.02


def test_null_changes_are_rarely_kept_and_never_on_one_run(repo: Path, noisy: Cli) -> None:
    for index in range(10):
        set_true(repo, 1.0, extra=f"# variant {index}\nUNUSED = {index}\n")
        noisy("try", "-m", f"null change {index}")
    tried = rows(repo)[1:]
    kept = [r for r in tried if r["status"] == "keep"]
    assert len(kept) <= 2, kept
    assert all(int(r["runs"]) >= 2 for r in kept)
    assert sum(int(r["runs"]) for r in tried) / len(tried) <= 2.0


def test_noise_off_is_the_plain_greedy_rule(repo: Path, cli: Cli) -> None:
    """Strictly better on one run is kept, however small the gain; equal or worse is not."""

    def measure(value: float, note: str) -> list[str]:
        (repo / "train.py").write_text(f"# {note}\nprint('val_bpb: {value}')\n")
        assert cli("try", "-m", note).returncode == 0
        row = rows(repo)[-1]
        return [row["status"], row["runs"]]

    (repo / "train.py").write_text("print('val_bpb: 1.0')\n")
    git(repo, "commit", "-qam", "deterministic")
    cli.init("--noise", "off")
    assert rows(repo)[0]["runs"] == "1"
    assert "noise: off" in cli("status").stdout
    assert measure(0.9999, "a hair better") == ["keep", "1"]
    assert measure(0.9999, "the same") == ["discard", "1"]
    assert measure(1.2, "worse") == ["discard", "1"]


def test_min_delta_blocks_a_confirmed_but_tiny_gain(repo: Path, cli: Cli) -> None:
    (repo / "train.py").write_text("VALUE = 1.0\nprint(f'val_bpb: {VALUE}')\n")
    git(repo, "commit", "-qam", "deterministic")
    cli.init("--min-delta", "1%")
    (repo / "train.py").write_text("VALUE = 0.995\nprint(f'val_bpb: {VALUE}')\n")
    small = cli("try", "-m", "half a percent")
    assert small.stdout.startswith("discard") and "below --min-delta" in small.stdout
    (repo / "train.py").write_text("VALUE = 0.98\nprint(f'val_bpb: {VALUE}')\n")
    assert cli("try", "-m", "two percent").stdout.startswith("keep")


def test_complexity_cost_charges_added_lines_and_says_so(repo: Path, cli: Cli) -> None:
    (repo / "train.py").write_text("VALUE = 1.0\nprint(f'val_bpb: {VALUE}')\n")
    git(repo, "commit", "-qam", "deterministic")
    cli.init("--complexity-cost", "0.001")
    hacks = "".join(f"hack_{i} = {i}\n" for i in range(20))
    (repo / "train.py").write_text(
        hacks + "# a comment does not count\n\nVALUE = 0.99\nprint(f'val_bpb: {VALUE}')\n"
    )
    result = cli("try", "-m", "20 hacky lines for 0.01")
    assert result.stdout.startswith("discard")
    assert "does not pay for 20 added lines" in result.stdout


def test_a_constraint_violation_is_discarded_with_the_reason(repo: Path, noisy: Cli) -> None:
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-D", "autoresearch/t")
    started = noisy.init(
        "--constraint", "peak_vram_mb<=500", tag="c", run=f"VRAM=900 {sys.executable} train.py"
    )
    assert started.returncode == 0, started.stderr
    cli = noisy
    set_true(repo, 0.9)
    result = cli("try", "-m", "better but too big")
    assert result.stdout.startswith("discard")
    assert "violates peak_vram_mb<=500 (900)" in result.stdout
    assert ledger_lines(repo)[0][2] == "peak_vram_mb"  # the constrained metric is recorded


def test_holdout_runs_after_keeps_only_and_stays_out_of_the_verdict(repo: Path, cli: Cli) -> None:
    (repo / "train.py").write_text("VALUE = 1.0\nprint(f'val_bpb: {VALUE}')\n")
    (repo / "holdout.py").write_text("import train\nopen('holdout-calls.txt', 'a').write('x')\n")
    (repo / "holdout.py").write_text(
        "open('holdout-calls.txt', 'a').write('x')\nprint('val_bpb: 2.5')\n"
    )
    (repo / ".gitignore").write_text("holdout-calls.txt\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "holdout")
    cli.init("--holdout", f"{sys.executable} holdout.py")
    (repo / "train.py").write_text("VALUE = 0.9\nprint(f'val_bpb: {VALUE}')\n")
    kept = cli("try", "-m", "better")
    (repo / "train.py").write_text("VALUE = 1.9\nprint(f'val_bpb: {VALUE}')\n")
    cli("try", "-m", "worse")
    assert (repo / "holdout-calls.txt").read_text() == "xx"  # baseline and the keep only
    assert "2.5" not in kept.stdout and "holdout" not in kept.stdout
    assert [r["holdout_val_bpb"] for r in rows(repo)] == ["2.500000", "2.500000", ""]
    assert "holdout holdout_val_bpb: 2.5 -> 2.5" in cli("status").stdout


def test_a_run_that_changes_a_protected_file_is_voided_and_the_file_restored(
    repo: Path, cli: Cli
) -> None:
    cli.init()
    (repo / "train.py").write_text(
        "open('prepare.py', 'w').write('DATA = \\'easy\\'\\n')\nprint('val_bpb: 0.1')\n"
    )
    result = cli("try", "-m", "rewrites the evaluation")
    assert result.stdout.startswith("crash")
    # Read-only during the run: the write fails (in the sandbox, even for root), unless the
    # run is root's outside it (then it is undone).
    refused = "Permission denied" in result.stdout or "Read-only file system" in result.stdout
    assert refused or "protected file changed during the run: prepare.py" in result.stdout
    assert (repo / "prepare.py").read_text() == "DATA = 'fixed'\n"


def test_untracked_protected_data_is_guarded_too(repo: Path, cli: Cli) -> None:
    data = repo / "data"
    data.mkdir()
    (data / "val.bin").write_bytes(b"\x00" * 4096)
    (repo / ".gitignore").write_text("data/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore data")
    assert cli.init("--protect", "data/*").returncode == 0
    (data / "val.bin").write_bytes(b"\x00" * 100)  # a smaller validation set scores better
    (repo / "train.py").write_text("print('val_bpb: 0.5')\n")
    result = cli("try", "-m", "shrink the eval set")
    assert "protected file changed before the run: data/val.bin" in result.stdout
    assert (data / "val.bin").read_bytes() == b"\x00" * 4096


def test_the_holdout_never_reaches_the_agents_prompt(repo: Path, cli: Cli, tmp_path: Path) -> None:
    (repo / "train.py").write_text("VALUE = 1.0\nprint(f'val_bpb: {VALUE}')\n")
    (repo / "holdout.py").write_text("print('val_bpb: 7.25')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "holdout")
    cli.init("--holdout", f"{sys.executable} holdout.py")
    seen = tmp_path / "prompts"
    seen.mkdir()
    agent = (
        f'cp "$AUTORESEARCH_PROMPT" {seen}/$(date +%s%N).md && '
        f"n=$(ls {seen} | wc -l) && "
        'sed -i "s/VALUE = .*/VALUE = 0.$n/" train.py && '
        'echo "halve VALUE" > "$AUTORESEARCH_DESCRIPTION"'
    )
    result = cli("loop", "--agent", "command", "--agent-cmd", agent, "--max-experiments", "2")
    assert result.returncode == 0, result.stderr
    assert rows(repo)[1]["holdout_val_bpb"] == "7.250000"
    prompts = [path.read_text() for path in seen.iterdir()]
    assert len(prompts) == 2
    assert all("7.25" not in text and "holdout_val_bpb" not in text for text in prompts)
    assert "7.25" not in result.stdout


def runs_of(repo: Path, experiment: int) -> list[dict[str, object]]:
    lines = (repo / ".autoresearch/t/runs.jsonl").read_text().splitlines()
    return [run for run in map(json.loads, lines) if run["experiment"] == experiment]


def logged_value(log: Path) -> float:
    line = next(x for x in log.read_text().splitlines() if x.startswith("val_bpb:"))
    return float(line.split()[1])


def test_the_keep_ref_runs_again_in_the_tree_before_each_further_run_of_a_candidate(
    repo: Path, noisy: Cli
) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    set_true(repo, 0.95)
    data = json.loads(noisy("try", "-m", "five sigma better", "--json").stdout)
    assert data["status"] == "keep" and data["runs"] >= 2, data
    candidate = git(repo, "rev-parse", "HEAD")
    runs = runs_of(repo, 1)
    # candidate, keep ref, candidate, keep ref, ..., candidate: the same moments for both
    expected = [candidate] + [keep, candidate] * (data["runs"] - 1)
    assert [run["commit"] for run in runs] == expected
    # Each ran its own tree: the keep ref's runs measured 1.0, the candidate's 0.95.
    logs = repo / ".autoresearch/t/logs"
    for index in range(data["runs"] - 1):
        suffix = f".run{index + 1}" if index else ""
        assert abs(logged_value(logs / f"0001-{keep[:7]}{suffix}.log") - 1.0) < 0.05
    assert abs(float(rows(repo)[-1]["val_bpb"]) - 0.95) < 0.02
    seeds = (repo / "seeds.txt").read_text().split()
    assert len(seeds) == len(set(seeds)) == 3 + len(runs)  # a fresh seed for every run
    assert git(repo, "status", "--porcelain") == ""  # the tree is the kept candidate again
    assert json.loads(noisy("status", "--json").stdout)["record"] == []


def test_in_a_worktree_the_keep_ref_runs_again_in_its_own_checkout(repo: Path, noisy: Cli) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    set_true(repo, 0.95)
    tried = noisy("try", "-m", "five sigma better", "--in-worktree", "--json")
    data = json.loads(tried.stdout)
    assert data["status"] == "keep" and data["runs"] >= 2, data
    candidate = git(repo, "rev-parse", "refs/autoresearch/t/keep")
    expected = [candidate] + [keep, candidate] * (data["runs"] - 1)
    assert [run["commit"] for run in runs_of(repo, 1)] == expected
    logs = repo / ".autoresearch/t/logs"
    for index in range(data["runs"] - 1):
        suffix = f".run{index + 1}" if index else ""
        assert abs(logged_value(logs / f"0001-{keep[:7]}{suffix}.log") - 1.0) < 0.05
    assert abs(float(rows(repo)[-1]["val_bpb"]) - 0.95) < 0.02
    assert json.loads(noisy("status", "--json").stdout)["record"] == []


def test_what_a_run_writes_in_its_tree_is_pinned_and_never_measured_by_the_next_run(
    repo: Path, noisy: Cli
) -> None:
    # Every run of the candidate appends to a tracked file in the tree it runs in.
    set_true(repo, 0.95, extra="open('.gitignore', 'a').write('# noted by the run\\n')\n")
    data = json.loads(noisy("try", "-m", "better, and writes a tracked file", "--json").stdout)
    assert data["status"] == "keep" and data["runs"] >= 2, data
    candidate = git(repo, "rev-parse", "HEAD")
    assert [run["commit"] for run in runs_of(repo, 1)].count(candidate) == data["runs"]
    # Before each further run the tree went back to the commit, the run's edit pinned first.
    pinned = git(repo, "for-each-ref", "--format=%(refname)", "refs/autoresearch/t/abandoned/")
    refs = pinned.split()
    assert len(refs) == data["runs"] - 1, refs
    assert any(ref in note for note in data["notes"] for ref in refs), data["notes"]
    for ref in refs:
        assert git(repo, "show", f"{ref}:.gitignore").count("# noted by the run") == 1
    assert (repo / ".gitignore").read_text().count("# noted by the run") == 1  # the last run's


def test_a_keep_ref_not_run_for_a_while_runs_again_before_a_candidates_first_run(
    repo: Path, noisy: Cli
) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    # Worse, mostly on their one run each: little runs the keep ref again, and its runs grow old.
    tried = STALE_AFTER_RUNS + 8
    for index in range(tried):
        set_true(repo, 1.03, extra=f"VARIANT = {index}\n")
        assert noisy("try", "-m", f"worse {index}").stdout.startswith("discard")
    lines = (repo / ".autoresearch/t/runs.jsonl").read_text().splitlines()
    made = [json.loads(line) for line in lines]
    renewed = 0
    for number in range(1, tried + 1):
        began = next(i for i, run in enumerate(made) if run["experiment"] == number)
        stale = all(run["commit"] != keep for run in made[:began][-STALE_AFTER_RUNS:])
        assert (made[began]["commit"] == keep) == stale, (number, began)
        renewed += stale
    assert renewed >= 1
