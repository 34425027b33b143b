"""The user's tree brought to the keep ref for one of its runs and back: nothing in it is lost."""

from __future__ import annotations

from pathlib import Path

from support import git

from autoresearch.engine.reference import keep_ref_in_tree


def two_commits(repo: Path) -> tuple[str, str]:
    """The keep ref, and a candidate on it that changes train.py and adds helper.py."""
    keep = git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text("print('val_bpb: 0.5')\n")
    (repo / "helper.py").write_text("HELP = 1\n")
    git(repo, "add", "train.py", "helper.py")
    git(repo, "commit", "-qm", "candidate")
    return keep, git(repo, "rev-parse", "HEAD")


def test_the_tree_is_the_keep_ref_inside_and_the_candidate_after(repo: Path) -> None:
    keep, candidate = two_commits(repo)
    pinned: list[str] = []
    with keep_ref_in_tree(str(repo), keep, candidate, pinned.append) as switched:
        assert switched
        assert "0.5" not in (repo / "train.py").read_text()
        assert not (repo / "helper.py").exists()
    assert (repo / "train.py").read_text() == "print('val_bpb: 0.5')\n"
    assert (repo / "helper.py").exists()
    assert git(repo, "rev-parse", "HEAD") == candidate and git(repo, "status", "--porcelain") == ""
    assert pinned == []


def test_what_changed_in_the_tree_meanwhile_is_pinned_before_it_goes_back(repo: Path) -> None:
    keep, candidate = two_commits(repo)
    pinned: list[str] = []
    with keep_ref_in_tree(str(repo), keep, candidate, pinned.append):
        (repo / "train.py").write_text("print('edited while the keep ref ran')\n")
    assert git(repo, "rev-parse", "HEAD") == candidate and git(repo, "status", "--porcelain") == ""
    assert len(pinned) == 1
    assert "edited while the keep ref ran" in git(repo, "show", f"{pinned[0]}:train.py")


def test_a_tree_with_edits_or_an_untracked_file_in_the_way_is_left_alone(repo: Path) -> None:
    keep, candidate = two_commits(repo)
    (repo / "train.py").write_text("an edit of the user's\n")
    with keep_ref_in_tree(str(repo), keep, candidate, lambda _: "") as switched:
        assert not switched
    assert (repo / "train.py").read_text() == "an edit of the user's\n"
    git(repo, "checkout", "-q", "--", "train.py")
    # The candidate removes a file of the keep ref; an untracked file now stands in its place.
    git(repo, "rm", "-q", "helper.py")
    git(repo, "commit", "-qm", "helper removed")
    removed = git(repo, "rev-parse", "HEAD")
    (repo / "helper.py").write_text("the user's own, untracked\n")
    with keep_ref_in_tree(str(repo), candidate, removed, lambda _: "") as switched:
        assert not switched
    assert (repo / "helper.py").read_text() == "the user's own, untracked\n"
