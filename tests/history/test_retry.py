"""`autoresearch retry N`: experiment N's change back in the tree, for `try` to measure again."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Cli, git, ledger_lines, repo_state, stand_in_agent, write_train

# Two knobs far apart, so that a change to one applies on top of a change to the other.
TRAIN = (
    "A = {a}\n"
    + "".join(f"# line {n}\n" for n in range(8))
    + "B = {b}\n"
    + ('print(f"val_bpb: {{1.0 - A - B:.6f}}")\n')
)


def write(repo: Path, a: float = 0.0, b: float = 0.0) -> None:
    (repo / "train.py").write_text(TRAIN.format(a=a, b=b))


@pytest.fixture
def tried(repo: Path, cli: Cli) -> Cli:
    """Baseline 1.0; experiment 1 (B -0.1) discarded; experiment 2 (A 0.1) kept."""
    write(repo)
    git(repo, "commit", "-qam", "two knobs")
    assert cli.init("--noise", "off").returncode == 0
    write(repo, b=-0.1)
    assert cli("try", "-m", "B down").stdout.startswith("discard")
    write(repo, a=0.1)
    assert cli("try", "-m", "A up").stdout.startswith("keep")
    return cli


def test_a_discarded_change_comes_back_on_the_new_keep_ref_and_try_measures_it(
    repo: Path, tried: Cli
) -> None:
    keep = git(repo, "rev-parse", "HEAD")
    result = tried("retry", "1")
    assert result.returncode == 0, result.stderr
    assert "experiment 1 (" in result.stdout and "discard: B down" in result.stdout
    assert "autoresearch try -m 'again: B down'" in result.stdout
    # Its change against its own base, on top of the keep ref, left uncommitted.
    assert git(repo, "rev-parse", "HEAD") == keep
    assert (repo / "train.py").read_text() == TRAIN.format(a=0.1, b=-0.1)
    assert git(repo, "status", "--porcelain") == "M train.py"
    measured = tried("try", "-m", "again: B down")
    assert measured.stdout.startswith("discard") and "val_bpb 1.000000" in measured.stdout
    assert (repo / "results.tsv").read_text().splitlines()[-1].endswith("again: B down")


def refused(repo: Path, cli: Cli, number: str, words: str) -> None:
    before = repo_state(repo)
    result = cli("retry", number)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
    assert repo_state(repo) == before


def test_what_cannot_be_brought_back_is_refused_with_nothing_changed(
    repo: Path, tried: Cli
) -> None:
    refused(repo, tried, "7", "no experiment 7: the ledger has experiments 0 to 2")
    refused(repo, tried, "0", "experiment 0 is the baseline")
    refused(repo, tried, "2", "experiment 2 was kept: the keep ref")
    write(repo, a=0.1, b=0.3)
    refused(repo, tried, "1", "the tree has changes (train.py)")
    git(repo, "checkout", "-q", "train.py")
    write(repo, a=0.1, b=0.2)
    assert tried("try", "-m", "B up").stdout.startswith("keep")
    refused(repo, tried, "1", "experiment 1's change no longer applies on the keep ref")


def test_a_change_to_a_protected_file_is_never_brought_back(repo: Path, tried: Cli) -> None:
    # exp/1 moved by hand to a commit that also edits the protected harness.
    base = git(repo, "rev-parse", "HEAD~1")
    git(repo, "checkout", "-q", "--detach", base)
    (repo / "prepare.py").write_text("DATA = 'changed'\n")
    write(repo, b=-0.1)
    git(repo, "commit", "-qam", "B down and the harness")
    forged = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "autoresearch/t")
    git(repo, "update-ref", "refs/autoresearch/t/exp/1", forged)
    refused(repo, tried, "1", "refused: experiment 1 changes prepare.py (protected)")


@pytest.mark.parametrize("mode", [(), ("--pipeline",)], ids=["in turn", "pipelined"])
def test_a_loop_agent_asks_for_an_experiment_again_by_its_number(
    repo: Path, cli: Cli, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    assert cli.init().returncode == 0
    write_train(repo, 1.5)
    assert cli("try", "-m", "VALUE up").stdout.startswith("discard")
    agent = tmp_path / "agent"
    command = stand_in_agent(agent, [{"say": "retry 1"}])
    result = cli(
        "loop", "--agent", "command", "--agent-cmd", command, "--max-experiments", "1", *mode
    )
    assert result.returncode == 0, result.stderr
    prompt = (agent / "prompt-0.md").read_text()
    assert "- #1 VALUE up (discard)" in prompt and "`retry N`" in prompt
    assert ledger_lines(repo)[3][-2:] == ["discard", "again: VALUE up (retry of 1)"]
    # The same change measured again: the new commit holds experiment 1's tree.
    tree = git(repo, "rev-parse", "refs/autoresearch/t/exp/1^{tree}")
    assert git(repo, "rev-parse", "refs/autoresearch/t/exp/2^{tree}") == tree
