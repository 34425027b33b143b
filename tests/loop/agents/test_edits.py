from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from autoresearch.loop.agents.base import AgentError
from autoresearch.loop.agents.edits import ANSWER_FORMAT, apply_answer, files_section, parse_answer

TRAIN = "import math\n\nlr = 0.01\nsteps = 100\n\n\ndef train():\n    return lr * steps\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def apply(text: str, workdir: Path) -> tuple[str, list[str]]:
    answer = parse_answer(text)
    return answer.description, apply_answer(answer, workdir)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


def test_a_fenced_block_with_prose_edits_the_file_and_returns_the_first_line(repo: Path) -> None:
    answer = (
        "Raise the learning rate to 0.03\n\n"
        "Here is the change:\n\n"
        "```python\ntrain.py\n<<<<<<< SEARCH\nlr = 0.01\n=======\nlr = 0.03\n>>>>>>> REPLACE\n```\n"
        "This should converge faster.\n"
    )
    description, changed = apply(answer, repo)
    assert description == "Raise the learning rate to 0.03"
    assert changed == ["train.py"]
    assert (repo / "train.py").read_text() == TRAIN.replace("lr = 0.01", "lr = 0.03")


def test_several_blocks_apply_in_order_and_a_pathless_block_reuses_the_previous_path(
    repo: Path,
) -> None:
    answer = (
        "More steps and a bigger step size\n"
        + block("train.py", "lr = 0.01\n", "lr = 0.02\n")
        + "<<<<<<< SEARCH\nsteps = 100\n=======\nsteps = 300\n>>>>>>> REPLACE\n"
        + block("train.py", "lr = 0.02\n", "lr = 0.025\n")
    )
    apply(answer, repo)
    assert "lr = 0.025\nsteps = 300\n" in (repo / "train.py").read_text()


@pytest.mark.parametrize(
    ("first_line", "description"),
    [
        ("**Description:** Use cosine decay", "Use cosine decay"),
        ("# Use cosine decay", "Use cosine decay"),
        ("Idea: Use\tcosine decay", "Use cosine decay"),
    ],
)
def test_markdown_around_the_description_is_dropped(
    repo: Path, first_line: str, description: str
) -> None:
    answer = f"{first_line}\n" + block("train.py", "lr = 0.01\n", "lr = 0.1\n")
    assert parse_answer(answer).description == description


def test_a_leading_reasoning_section_is_skipped(repo: Path) -> None:
    answer = "<think>\nmaybe lr?\nyes\n</think>\nTry lr 0.05\n" + block(
        "train.py", "lr = 0.01\n", "lr = 0.05\n"
    )
    description, _ = apply(answer, repo)
    assert description == "Try lr 0.05"
    assert "lr = 0.05" in (repo / "train.py").read_text()


def test_an_empty_search_creates_a_new_file_in_a_new_folder(repo: Path) -> None:
    description, changed = apply(
        "Add a schedule helper\n" + block("lib/schedule.py", "", "def cosine():\n    pass\n"),
        repo,
    )
    assert changed == ["lib/schedule.py"]
    assert (repo / "lib" / "schedule.py").read_text() == "def cosine():\n    pass\n"


def test_an_empty_search_on_an_existing_file_is_refused(repo: Path) -> None:
    with pytest.raises(AgentError, match="train.py already exists"):
        apply("Rewrite\n" + block("train.py", "", "print(1)\n"), repo)
    assert (repo / "train.py").read_text() == TRAIN


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("I think we should raise the learning rate.\n", "no edit blocks in the answer"),
        ("Idea\ntrain.py\n<<<<<<< SEARCH\nlr = 0.01\n>>>>>>> REPLACE\n", "near line 3"),
        ("Idea\ntrain.py\n<<<<<<< SEARCH\nlr = 0.01\n=======\nlr = 1\n", "missing '>>>>>>>"),
        ("Idea\nedit this file\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", "file path"),
        ("train.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n", "description line"),
        ("Idea\ntrain.py\nlr = 1\n>>>>>>> REPLACE\n", "near line 4: REPLACE marker without"),
    ],
)
def test_unusable_answers_say_what_is_wrong(answer: str, reason: str) -> None:
    with pytest.raises(AgentError, match=reason):
        parse_answer(answer)


def test_a_malformed_block_names_its_line() -> None:
    answer = "Idea\n\n" + block("train.py", "a\n", "b\n") + "train.py\n<<<<<<< SEARCH\nc\n"
    with pytest.raises(AgentError, match=r"malformed edit block near line 10: missing '======='"):
        parse_answer(answer)


def test_search_text_that_is_not_in_the_file_is_reported_with_its_first_line(repo: Path) -> None:
    with pytest.raises(
        AgentError, match=r"SEARCH text not found in train.py \(first line: 'lr = 5'"
    ):
        apply("Idea\n" + block("train.py", "lr = 5\n", "lr = 6\n"), repo)


def test_search_text_matching_two_places_is_refused(repo: Path) -> None:
    (repo / "train.py").write_text("x = 1\ny = 2\nx = 1\n")
    with pytest.raises(AgentError, match="SEARCH text matches 2 places in train.py"):
        apply("Idea\n" + block("train.py", "x = 1\n", "x = 3\n"), repo)


def test_nothing_is_written_when_any_block_fails(repo: Path) -> None:
    (repo / "model.py").write_text("width = 64\n")
    answer = (
        "Wider and faster\n"
        + block("model.py", "width = 64\n", "width = 128\n")
        + block("train.py", "lr = 9\n", "lr = 1\n")
    )
    with pytest.raises(AgentError, match="not found in train.py"):
        apply(answer, repo)
    assert (repo / "model.py").read_text() == "width = 64\n"
    assert (repo / "train.py").read_text() == TRAIN


def test_search_text_differing_only_in_trailing_spaces_still_applies(repo: Path) -> None:
    (repo / "train.py").write_text("lr = 0.01   \nsteps = 100\n")
    apply("Idea\n" + block("train.py", "lr = 0.01\nsteps = 100  \n", "lr = 0.2\n"), repo)
    assert (repo / "train.py").read_text() == "lr = 0.2\n"


def test_crlf_line_endings_and_a_missing_final_newline_are_kept(repo: Path) -> None:
    (repo / "train.py").write_bytes(b"a = 1\r\nlr = 0.01\r\nb = 2")
    apply("Idea\n" + block("train.py", "lr = 0.01\n", "lr = 0.5\nlr2 = 1\n"), repo)
    assert (repo / "train.py").read_bytes() == b"a = 1\r\nlr = 0.5\r\nlr2 = 1\r\nb = 2"


def test_the_last_line_of_a_file_without_final_newline_can_be_replaced(repo: Path) -> None:
    (repo / "train.py").write_bytes(b"a = 1\nb = 2")
    apply("Idea\n" + block("train.py", "b = 2\n", "b = 3\n"), repo)
    assert (repo / "train.py").read_bytes() == b"a = 1\nb = 3"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside.py", "path escapes the working tree: ../outside.py"),
        ("lib/../../outside.py", "path escapes the working tree"),
        ("/tmp/outside.py", "path escapes the working tree: /tmp/outside.py"),
        (".git/hooks/pre-commit", "git's own files"),
    ],
)
def test_paths_outside_the_working_tree_are_refused(repo: Path, path: str, reason: str) -> None:
    with pytest.raises(AgentError, match=reason):
        apply("Idea\n" + block(path, "", "print('hi')\n"), repo)
    assert not (repo.parent / "outside.py").exists()
    assert not (repo / ".git").exists()


def test_a_symlink_leading_out_of_the_tree_is_refused(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (repo / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(AgentError, match="path escapes the working tree: link/x.py"):
        apply("Idea\n" + block("link/x.py", "", "x = 1\n"), repo)
    assert list(outside.iterdir()) == []


def test_editing_a_missing_file_says_how_to_create_one(repo: Path) -> None:
    with pytest.raises(AgentError, match="no such file"):
        apply("Idea\n" + block("nope.py", "a\n", "b\n"), repo)


def test_the_files_section_shows_scope_files_and_the_answer_format(repo: Path) -> None:
    (repo / "prepare.py").write_text("SECRET_EVAL = 1\n")
    section = files_section(repo, ("train.py", "prepare.py", "new.py"), protected=("prepare.py",))
    assert TRAIN.rstrip("\n") in section
    assert "SECRET_EVAL" not in section
    assert "Never edit: prepare.py" in section
    assert "new.py (does not exist yet" in section
    assert section.endswith(ANSWER_FORMAT)


def test_the_files_section_is_bounded_and_says_what_it_cut(repo: Path) -> None:
    (repo / "big.py").write_text("".join(f"value_{n} = {n}\n" for n in range(2000)))
    (repo / "later.py").write_text("later = True\n")
    section = files_section(repo, ("train.py", "big.py", "later.py"), max_chars=10_000)
    assert len(section) < 10_000 + len(ANSWER_FORMAT) + 1_000
    assert "lr = 0.01" in section
    assert "value_0 = 0" in section and "value_1999" not in section
    assert "(truncated: the first" in section
    assert "later = True" not in section
    assert "big.py (truncated), later.py (left out)" in section


def test_file_contents_with_fences_are_shown_inside_a_longer_fence(repo: Path) -> None:
    (repo / "notes.md").write_text("```python\nx = 1\n```\n")
    section = files_section(repo, ("notes.md",))
    assert "````text\n```python\nx = 1\n```\n````" in section


def test_scope_globs_and_folders_expand_to_tracked_files(repo: Path) -> None:
    (repo / "pkg").mkdir()
    (repo / "pkg" / "model.py").write_text("depth = 3\n")
    (repo / "data.csv").write_text("1,2\n")
    (repo / "untracked.py").write_text("stray = 1\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "train.py", "pkg", "data.csv"], cwd=repo, check=True)
    section = files_section(repo, ("*.py",))
    assert "lr = 0.01" in section and "depth = 3" in section
    assert "1,2" not in section and "stray" not in section
    assert "depth = 3" in files_section(repo, ("pkg",))


def test_an_answer_asking_for_an_experiment_again_edits_nothing(tmp_path: Path) -> None:
    answer = parse_answer("retry 4\n")
    assert answer.description == "retry 4" and answer.blocks == ()
    assert apply_answer(answer, tmp_path) == []
    with pytest.raises(AgentError, match="no edit blocks"):
        parse_answer("retry the learning rate idea\n")
