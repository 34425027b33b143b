"""Where a candidate's symbolic links lead, and what its .gitattributes add, decided on values."""

from __future__ import annotations

import pytest

from autoresearch.errors import UserError
from autoresearch.rules.pointers import (
    Link,
    Pointers,
    added_drivers,
    link_problem,
    problems,
    refuse,
)
from autoresearch.rules.scope import Scope

SCOPE = Scope(("src", "train.py"), ("prepare.py", "data/*"), reserved=("results.tsv",))
HELD = frozenset({"train.py", "src", "src/model.py", "src/deep", "src/deep/x.py", "data"})


@pytest.mark.parametrize(
    ("path", "target", "reason"),
    [
        ("train.py", "/etc/passwd", "leaves the repository"),
        ("train.py", "../outside/train.py", "leaves the repository"),
        ("src/model.py", "../../train.py", "leaves the repository"),
        ("src/model.py", "deep/../../../x", "leaves the repository"),
        ("train.py", ".git/config", "points into .git"),
        ("src/model.py", "../prepare.py", "points at a protected file"),
        ("train.py", "data/val.bin", "points at a protected file"),
        ("train.py", "results.tsv", "points at a protected file"),
        ("src/d", "../data", "points at a folder of protected files"),
        ("train.py", "scratch/train.py", "points at a file its commit does not hold"),
        ("src/model.py", "deep/x.py", None),
        ("src/alias", "deep", None),
        ("train.py", "src/model.py", None),
        ("src/up", "..", None),
    ],
)
def test_where_a_link_may_lead(path: str, target: str, reason: str | None) -> None:
    assert link_problem(Link(path, target), SCOPE, HELD) == reason


def test_only_the_drivers_a_change_adds_count() -> None:
    old = "*.bin binary\n*.lfs filter=lfs diff=lfs merge=lfs -text\n"
    assert added_drivers(old, old + "* text=auto\n# x filter=y\n") == []
    new = old + "train.py filter=planted\n[attr]quiet diff=planted\n"
    assert added_drivers(old, new) == ["[attr]quiet diff=planted", "train.py filter=planted"]
    assert added_drivers("", "*.py -diff\n*.py diff\n") == []  # unset and set: git's own diff


def test_every_reason_is_said_in_one_refusal() -> None:
    read = Pointers(
        links=(Link("train.py", "/x"), Link("src/a", "/y")),
        gitlinks=("src/vendor",),
        drivers=((".gitattributes", "* filter=x"),),
        flagged={"README.md": "skip-worktree"},
    )
    found = problems(read, [".gitmodules", "train.py"], SCOPE, HELD)
    with pytest.raises(UserError) as refusal:
        refuse(found)
    message = str(refusal.value)
    assert message.startswith("refused: the candidate has a symbolic link that leaves")
    assert "train.py -> /x, src/a -> /y" in message
    assert "adds a submodule (gitlink): src/vendor" in message
    assert "changes .gitmodules (submodules)" in message
    assert "README.md (skip-worktree)" in message and "\n" not in message
    refuse(problems(Pointers(), ["train.py"], SCOPE, HELD))  # nothing to say: no refusal
