"""What is measured is what is kept: a candidate that points the run at code its commit does not
hold (a symbolic link out of the repository or at a protected file, a gitlink, a filter in
``.gitattributes``, an index flag that makes git look away from an edit) is refused as out of
scope, in place and in a clean checkout, by `try` and by `loop`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from support import Cli, git, ledger_rows, session_flags, write_train

WHERE = pytest.mark.parametrize(
    "where", [(), ("--in-worktree",)], ids=["in place", "in a worktree"]
)
# Better than the baseline's 1.0: what a cheat would get kept.
BETTER = "print('val_bpb: 0.5')\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the repository, which no commit holds and which can change any time."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "train.py").write_text(BETTER)
    (folder / "model.py").write_text("WIDTH = 9\n")
    return folder


@pytest.fixture
def project(repo: Path, cli: Cli) -> Cli:
    """The test project with a package `src/` in scope besides train.py, an ignored cache."""
    (repo / "src").mkdir()
    (repo / "src" / "model.py").write_text("WIDTH = 1\n")
    (repo / ".gitignore").write_text(".cache/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a package")
    result = cli.init("--scope", "src", "--noise", "off")
    assert result.returncode == 0, result.stderr
    return cli


def refused(repo: Path, cli: Cli, where: tuple[str, ...], *reasons: str) -> None:
    """`try` refuses with every reason, before anything is committed or run."""
    head = git(repo, "rev-parse", "HEAD")  # the agent's own commit, if it made one
    result = cli("try", "-m", "cheat", *where)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("autoresearch: refused: the candidate"), result.stderr
    for reason in reasons:
        assert reason in result.stderr
    assert git(repo, "rev-parse", "HEAD") == head
    assert len(ledger_rows(repo)) == 1  # the baseline only: nothing was run


@WHERE
def test_a_link_out_of_the_repository_is_refused(
    repo: Path, project: Cli, outside: Path, where: tuple[str, ...]
) -> None:
    (repo / "train.py").unlink()
    os.symlink(os.path.relpath(outside / "train.py", repo), repo / "train.py")
    refused(repo, project, where, "symbolic link that leaves the repository: train.py -> ../")


@WHERE
def test_an_absolute_link_is_refused(
    repo: Path, project: Cli, outside: Path, where: tuple[str, ...]
) -> None:
    os.symlink(outside / "model.py", repo / "src" / "wide.py")
    refused(repo, project, where, f"leaves the repository: src/wide.py -> {outside}/model.py")


@WHERE
def test_a_link_to_a_protected_file_is_refused(
    repo: Path, project: Cli, where: tuple[str, ...]
) -> None:
    (repo / "src" / "model.py").unlink()
    os.symlink("../prepare.py", repo / "src" / "model.py")
    refused(repo, project, where, "points at a protected file: src/model.py -> ../prepare.py")


@WHERE
def test_a_link_to_a_file_no_commit_holds_is_refused(
    repo: Path, project: Cli, where: tuple[str, ...]
) -> None:
    """An ignored file inside the repository is as far out of the commit as one outside it."""
    (repo / ".cache").mkdir()
    (repo / ".cache" / "train.py").write_text(BETTER)
    (repo / "train.py").unlink()
    os.symlink(".cache/train.py", repo / "train.py")
    refused(repo, project, where, "points at a file its commit does not hold: train.py")


@WHERE
def test_a_linked_folder_is_refused(
    repo: Path, project: Cli, outside: Path, where: tuple[str, ...]
) -> None:
    """The package replaced by a link to another one: git sees a deletion, the run the other."""
    (repo / "src" / "model.py").unlink()
    (repo / "src").rmdir()
    os.symlink(outside, repo / "src")
    refused(
        repo,
        project,
        where,
        "changes a path under a symbolic link: src/model.py (under src)",
        f"leaves the repository: src -> {outside}",
    )


@WHERE
def test_a_link_to_a_file_of_the_commit_is_measured(
    repo: Path, project: Cli, where: tuple[str, ...]
) -> None:
    (repo / "src" / "train_impl.py").write_text(BETTER)
    (repo / "train.py").unlink()
    os.symlink("src/train_impl.py", repo / "train.py")
    result = project("try", "-m", "train from the package", *where)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("keep")


def nested_repository(folder: Path) -> None:
    """Another repository inside this one, with code of its own committed."""
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / "fast.py").write_text(BETTER)
    git(folder, "add", ".")
    git(folder, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "other code")


@WHERE
def test_a_nested_repository_is_refused(repo: Path, project: Cli, where: tuple[str, ...]) -> None:
    nested_repository(repo / "src" / "vendor")
    write_train(repo, 0.9)
    refused(repo, project, where, "adds a submodule (gitlink): src/vendor")


@WHERE
def test_a_committed_gitlink_is_refused(repo: Path, project: Cli, where: tuple[str, ...]) -> None:
    """The agent commits the gitlink itself, as `git submodule add` would."""
    nested_repository(repo / "src" / "vendor")
    git(repo, "add", "src/vendor")
    git(repo, "commit", "-qm", "vendor other code")
    refused(repo, project, where, "adds a submodule (gitlink): src/vendor")


@pytest.fixture
def broad(repo: Path, cli: Cli) -> Cli:
    """A session whose scope is everything but the protected harness."""
    result = cli.init("--scope", "*", "--noise", "off")
    assert result.returncode == 0, result.stderr
    return cli


@WHERE
def test_submodules_declared_in_gitmodules_are_refused(
    repo: Path, broad: Cli, where: tuple[str, ...]
) -> None:
    (repo / ".gitmodules").write_text('[submodule "v"]\n\tpath = v\n\turl = ../elsewhere\n')
    write_train(repo, 0.9)
    refused(repo, broad, where, "changes .gitmodules (submodules)")


@WHERE
@pytest.mark.parametrize(
    ("path", "line"),
    [
        (".gitattributes", "train.py filter=planted"),
        (".gitattributes", "*.py diff=planted"),
        ("sub/.gitattributes", "[attr]quiet merge=planted"),
    ],
)
def test_gitattributes_that_add_a_driver_are_refused(
    repo: Path, broad: Cli, where: tuple[str, ...], path: str, line: str
) -> None:
    (repo / path).parent.mkdir(exist_ok=True)
    (repo / path).write_text("# ours\n*.bin binary\n" + line + "\n")
    write_train(repo, 0.9)
    refused(repo, broad, where, f"adds a filter, diff or merge driver in {path}: {line!r}")


@WHERE
def test_gitattributes_without_drivers_are_measured(
    repo: Path, broad: Cli, where: tuple[str, ...]
) -> None:
    (repo / ".gitattributes").write_text("*.bin binary\n* text=auto\n")
    write_train(repo, 0.9)
    assert broad("try", "-m", "attributes", *where).stdout.startswith("keep")


@WHERE
def test_skip_worktree_on_a_file_outside_scope_is_refused(
    repo: Path, project: Cli, where: tuple[str, ...]
) -> None:
    """The issue's case: git stops looking at README.md, whose edit the run would still see."""
    git(repo, "update-index", "--skip-worktree", "README.md")
    (repo / "README.md").write_text("edited where git does not look\n")
    write_train(repo, 0.9)
    refused(repo, project, where, "hidden from git by an index flag: README.md (skip-worktree)")


@WHERE
def test_skip_worktree_on_a_protected_file_is_refused(
    repo: Path, project: Cli, where: tuple[str, ...]
) -> None:
    git(repo, "update-index", "--skip-worktree", "prepare.py")
    (repo / "prepare.py").write_text("DATA = 'easy'\n")
    write_train(repo, 0.9)
    refused(repo, project, where, "prepare.py (skip-worktree)")


@WHERE
def test_assume_unchanged_on_a_file_in_scope_is_refused(
    repo: Path, project: Cli, where: tuple[str, ...]
) -> None:
    git(repo, "update-index", "--assume-unchanged", "src/model.py")
    (repo / "src" / "model.py").write_text("WIDTH = 9\n")
    write_train(repo, 0.9)
    refused(repo, project, where, "src/model.py (assume-unchanged)")


@WHERE
def test_a_sparse_checkouts_absent_files_are_no_reason(
    repo: Path, project: Cli, where: tuple[str, ...]
) -> None:
    """skip-worktree on a file that is not on disk (a sparse checkout): the run cannot see it."""
    git(repo, "update-index", "--skip-worktree", "README.md")
    (repo / "README.md").unlink()
    write_train(repo, 0.9)
    assert project("try", "-m", "better", *where).stdout.startswith("keep")


# ----- loop: the agent's own work, committed by the tool ------------------------------------

# Each agent turn links train.py to a better one outside the repository.
LINKING_AGENT = (
    "rm -f train.py && ln -s {target} train.py && "
    'echo "train from elsewhere" > "$AUTORESEARCH_DESCRIPTION"'
)
# Each agent turn hides an edit of README.md from git, and changes train.py for a candidate.
HIDING_AGENT = (
    "git update-index --skip-worktree README.md && echo hidden > README.md && "
    f"{sys.executable} -c \"open('train.py', 'a').write('# tuned\\n')\" && "
    'echo "tune" > "$AUTORESEARCH_DESCRIPTION"'
)


TUNE = f"{sys.executable} -c \"open('train.py', 'a').write('# tuned\\n')\" && "
DESCRIBE = 'echo "cheat" > "$AUTORESEARCH_DESCRIPTION"'
# What else an agent can leave in its own workspace, each with the reason it is refused; in
# place and in a worktree the loop collects the user's tree as `try` does (tested above), with
# two workers each agent's own checkout.
WORKSPACE_AGENTS = {
    "gitlink": (
        "mkdir vendor && cd vendor && git init -q && echo x > f && git add f && "
        "git -c user.name=x -c user.email=x@x commit -qm x && cd .. && " + TUNE + DESCRIBE,
        "adds a submodule (gitlink): vendor",
    ),
    "attributes": (
        "echo 'train.py filter=planted' > .gitattributes && " + TUNE + DESCRIBE,
        "adds a filter, diff or merge driver in .gitattributes",
    ),
    "assume-unchanged": (
        "git update-index --assume-unchanged README.md && echo hidden > README.md && "
        + TUNE
        + DESCRIBE,
        "README.md (assume-unchanged)",
    ),
    "protected link": (
        "rm -f train.py && ln -s prepare.py train.py && " + DESCRIBE,
        "prepare.py",
    ),
}
PLACES = {"in place": ("--in-place",), "in a worktree": (), "two workers": ("--workers", "2")}


@pytest.mark.parametrize(
    ("agent", "place"),
    [(agent, place) for agent in ("link", "hide") for place in PLACES]
    + [(agent, "two workers") for agent in WORKSPACE_AGENTS],
)
def test_loop_refuses_what_the_agent_points_the_run_at(
    repo: Path, cli: Cli, outside: Path, place: str, agent: str
) -> None:
    if agent in WORKSPACE_AGENTS:
        command, reason = WORKSPACE_AGENTS[agent]
    elif agent == "link":
        command, reason = LINKING_AGENT.format(target=outside / "train.py"), "leaves the repository"
    else:
        command, reason = HIDING_AGENT, "README.md (skip-worktree)"
    # In the sandbox an agent cannot write .git at all (test_sandbox.py): the refusal is what
    # stands outside it.
    unsandboxed = ("--sandbox", "off") if agent != "link" else ()
    result = cli(
        "loop",
        *session_flags(),
        "--scope",
        "*",
        *unsandboxed,
        "--noise",
        "off",
        "--agent",
        "command",
        "--agent-cmd",
        command,
        "--max-failures",
        "1",
        *PLACES[place],
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "agent attempt failed: refused: the candidate" in result.stdout
    assert reason in result.stdout
    assert [row["status"] for row in ledger_rows(repo)] == ["keep"]  # nothing measured
