"""A repository can name programs that git runs inside ordinary commands (hooks, fsmonitor,
filters, merge and diff drivers). An agent that writes ``.git/config`` must not get any of them
run by the tool's own git calls, nor decide the line counts that "simpler is better" uses."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
from support import Cli, git, ledger_rows, session_flags, write_train

from autoresearch.store import git as store_git


def plant_programs(repo: Path, marks: Path, included: bool = False) -> None:
    """Every program a repository can name, each leaving a mark when it runs (``included``: in
    a file of the agent's that ``.git/config`` includes)."""
    marks.mkdir()
    hooks = repo / ".git" / "planted-hooks"
    hooks.mkdir()
    for hook in (
        "pre-commit",
        "post-commit",
        "post-checkout",
        "reference-transaction",
        "post-index-change",
        "pre-auto-gc",
        "commit-msg",
        "prepare-commit-msg",
    ):
        script = hooks / hook
        script.write_text(f"#!/bin/sh\ntouch {marks}/{hook}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    config = {
        "core.hooksPath": str(hooks),
        "core.fsmonitor": f"touch {marks}/fsmonitor; echo",
        "filter.planted.clean": f"sh -c 'touch {marks}/clean; cat'",
        "filter.planted.smudge": f"sh -c 'touch {marks}/smudge; cat'",
        "diff.planted.textconv": f"sh -c 'touch {marks}/textconv; true'",
        "diff.planted.binary": "true",
        "diff.planted.command": f"sh -c 'touch {marks}/external-diff'",
        "diff.external": f"sh -c 'touch {marks}/diff-external'",
        "merge.planted.driver": f"sh -c 'touch {marks}/merge; false'",
        "commit.gpgSign": "true",
        "gpg.program": f"sh -c 'touch {marks}/gpg; false'",
        "core.pager": f"sh -c 'touch {marks}/pager; cat'",
        "core.editor": f"sh -c 'touch {marks}/editor'",
        "sequence.editor": f"sh -c 'touch {marks}/sequence-editor'",
    }
    where = ("--file", str(marks.parent / "agent.gitconfig")) if included else ()
    for key, value in config.items():
        git(repo, "config", *where, key, value)
    if included:
        git(repo, "config", "include.path", where[1])
    attributes = repo / ".git" / "info" / "attributes"
    attributes.parent.mkdir(exist_ok=True)
    attributes.write_text("* filter=planted diff=planted merge=planted\n")


@pytest.mark.parametrize("included", [False, True], ids=["in .git/config", "in an included file"])
@pytest.mark.parametrize("where", [(), ("--in-worktree",)], ids=["in place", "in a worktree"])
def test_try_runs_none_of_the_programs_the_repository_names(
    repo: Path, cli: Cli, tmp_path: Path, where: tuple[str, ...], included: bool
) -> None:
    assert cli.init().returncode == 0
    marks = tmp_path / "marks"
    plant_programs(repo, marks, included)
    write_train(repo, 0.8)
    kept = cli("try", "-m", "better", *where)
    write_train(repo, 0.9)
    discarded = cli("try", "-m", "worse", *where)
    assert kept.returncode == 0, kept.stderr
    assert discarded.returncode == 0, discarded.stderr
    assert sorted(p.name for p in marks.iterdir()) == []
    assert [r["status"] for r in ledger_rows(repo)] == ["keep", "keep", "discard"]


def test_line_counts_are_taken_on_the_bytes_git_stores(repo: Path, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text(
        (repo / "train.py").read_text() + "".join(f"extra_{i} = {i}\n" for i in range(30))
    )
    git(repo, "commit", "-qam", "thirty more lines")
    tip = git(repo, "rev-parse", "HEAD")
    (repo / "weights.bin").write_bytes(b"\0\1\2\n" * 40)
    git(repo, "add", "weights.bin")
    git(repo, "commit", "-qm", "binary")
    weights = git(repo, "rev-parse", "HEAD")
    # A textconv that shows every file as empty, or a driver or attribute that calls it
    # binary, would make the change look like no change.
    plant_programs(repo, tmp_path / "marks")
    for attributes in ("* binary\n", "* -diff\n", "* filter=planted diff=planted merge=planted\n"):
        (repo / ".git" / "info" / "attributes").write_text(attributes)
        with store_git.start_line_counts(repo, base, tip) as counting:
            assert store_git.line_counts(counting) == (30, 0), attributes
    # A file binary by its bytes still does not count.
    with store_git.start_line_counts(repo, tip, weights) as counting:
        assert store_git.line_counts(counting) == (0, 0)
    assert "extra_29" in store_git.diff(str(repo), base, tip)
    assert list((tmp_path / "marks").iterdir()) == []


def test_a_merge_driver_of_the_repository_is_never_run_to_carry_a_candidate(
    repo: Path, tmp_path: Path
) -> None:
    from autoresearch.store.rebase import rebase_onto

    base = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("project\nmore\n")
    git(repo, "commit", "-qam", "keep moved")
    onto = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", base)
    (repo / "README.md").write_text("changed\n")
    git(repo, "commit", "-qam", "candidate")
    candidate = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    plant_programs(repo, tmp_path / "marks")
    assert rebase_onto(str(repo), candidate, onto, "carried", True) is None  # a conflict
    assert list((tmp_path / "marks").iterdir()) == []


# Each turn lowers train.py's VALUE by 0.1: two workers start from one base, so the second
# candidate is carried onto the first one's keep (a merge) before it can be kept.
LOWERING_AGENT = (
    f"{sys.executable} -c \"import os, re; t = open('train.py').read(); "
    "v = float(re.search(r'VALUE = (\\S+)', t).group(1)); "
    "open('train.py', 'w').write(t.replace(f'VALUE = {v}', f'VALUE = {round(v - 0.1, 2)}')); "
    "open(os.environ['AUTORESEARCH_DESCRIPTION'], 'w').write('lower')\""
)


def test_a_parallel_loop_runs_none_of_the_programs_the_repository_names(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    plant_programs(repo, marks)
    result = cli(
        "loop",
        *session_flags(),
        "--noise",
        "off",
        "--agent",
        "command",
        "--agent-cmd",
        LOWERING_AGENT,
        "--workers",
        "2",
        "--max-experiments",
        "3",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in marks.iterdir()) == []
    assert "keep" in [r["status"] for r in ledger_rows(repo)[1:]], result.stdout
