"""What an agent can set around git, beyond the programs a repository names: the tool's own
environment (``GIT_*``), replace refs, and a configuration that points git at another checkout.
None of it changes what the tool's git calls see, commit or ship."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Cli, git, ledger_lines, make_repo, write_train

KEEP = "refs/autoresearch/t/keep"


def agent_git_variables(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """``GIT_*`` variables an agent could leave in the tool's environment, pointing git at a
    decoy repository (returned) and at programs that leave a mark in a folder (returned)."""
    (tmp_path / "decoy").mkdir()
    decoy = make_repo(tmp_path / "decoy")
    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "empty-exec-path").mkdir()
    variables = {
        "GIT_DIR": str(decoy / ".git"),
        "GIT_WORK_TREE": str(decoy),
        "GIT_INDEX_FILE": str(tmp_path / "agent-index"),
        "GIT_NAMESPACE": "agent",
        "GIT_OBJECT_DIRECTORY": str(tmp_path / "agent-objects"),
        "GIT_EXEC_PATH": str(tmp_path / "empty-exec-path"),
        "GIT_EXTERNAL_DIFF": f"sh -c 'touch {marks}/external-diff'",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.fsmonitor",
        "GIT_CONFIG_VALUE_0": f"touch {marks}/fsmonitor; echo",
    }
    return variables, decoy, marks


def test_git_variables_in_the_tools_environment_change_nothing(
    repo: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.init().returncode == 0
    variables, decoy, marks = agent_git_variables(tmp_path)
    decoy_refs = git(decoy, "for-each-ref")
    write_train(repo, 0.8)
    with monkeypatch.context() as env:
        for name, value in variables.items():
            env.setenv(name, value)
        kept = cli("try", "-m", "better")
        worktree = cli("try", "-m", "same again", "--in-worktree")
    assert kept.stdout.startswith("keep"), kept.stdout + kept.stderr
    assert worktree.returncode == 2 and "no change from the keep ref" in worktree.stderr
    commit = git(repo, "rev-parse", KEEP)
    assert ledger_lines(repo)[-1][0] == commit[:7]
    assert "0.8" in git(repo, "show", f"{commit}:train.py")
    assert git(decoy, "for-each-ref") == decoy_refs and git(decoy, "status", "--porcelain") == ""
    assert list(marks.iterdir()) == []


def test_retry_applies_to_the_sessions_tree_whatever_git_variables_say(
    repo: Path, kept_session: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_train(repo, 0.9)
    assert kept_session("try", "-m", "worse").stdout.startswith("discard")
    variables, decoy, marks = agent_git_variables(tmp_path)
    with monkeypatch.context() as env:
        for name, value in variables.items():
            env.setenv(name, value)
        retried = kept_session("retry", "2")
    assert retried.returncode == 0, retried.stderr
    assert "0.9" in (repo / "train.py").read_text()
    assert git(decoy, "status", "--porcelain") == "" and list(marks.iterdir()) == []


def test_a_replaced_keep_never_ships_what_was_not_measured(repo: Path, cli: Cli) -> None:
    assert cli.init().returncode == 0
    write_train(repo, 0.8)
    assert cli("try", "-m", "better").stdout.startswith("keep")
    keep = git(repo, "rev-parse", KEEP)
    measured_tree = git(repo, "rev-parse", f"{keep}^{{tree}}")
    # A commit of the agent's, never measured, that git would show in the keep's place.
    write_train(repo, 0.01)
    git(repo, "commit", "-qam", "never measured")
    forged = git(repo, "rev-parse", "HEAD")
    git(repo, "reset", "-q", "--hard", keep)
    git(repo, "replace", keep, forged)
    assert git(repo, "rev-parse", f"{keep}^{{tree}}") != measured_tree  # git is fooled
    assert cli("finalize").returncode == 0
    final = git(repo, "--no-replace-objects", "rev-parse", "autoresearch/t-final^{tree}")
    assert final == measured_tree
    write_train(repo, 0.7)
    tried = cli("try", "-m", "on the measured keep", "--in-worktree")
    assert tried.stdout.startswith("keep"), tried.stdout + tried.stderr


@pytest.mark.parametrize(
    ("key", "value", "included"),
    [
        ("core.worktree", "elsewhere", False),
        ("core.bare", "true", False),
        ("core.worktree", "elsewhere", True),
    ],
    ids=["core.worktree", "core.bare", "core.worktree included"],
)
def test_a_configuration_that_points_git_at_another_checkout_is_refused(
    repo: Path, cli: Cli, tmp_path: Path, key: str, value: str, included: bool
) -> None:
    assert cli.init().returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    value = str(elsewhere) if value == "elsewhere" else value
    ledger = (repo / "results.tsv").read_text()
    keep = git(repo, "rev-parse", KEEP)
    if included:
        agent_config = tmp_path / "agent.gitconfig"
        git(repo, "config", "--file", str(agent_config), key, value)
        git(repo, "config", "include.path", str(agent_config))
    else:
        git(repo, "config", key, value)
    write_train(repo, 0.8)
    result = cli("try", "-m", "elsewhere")
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"sets {key}" in result.stderr
    assert (repo / "results.tsv").read_text() == ledger
    assert git(repo, "--work-tree", str(repo), "rev-parse", KEEP) == keep
    assert list(elsewhere.iterdir()) == []
