from __future__ import annotations

import random
from pathlib import Path

import pytest

from autoresearch.errors import UserError
from autoresearch.loop.agents.knobs import (
    Knob,
    describe_change,
    parse_knobs,
    read_values,
    rewrite,
)

SOURCE = (
    "# -*- coding: utf-8 -*-\r\n"
    '"""Réglages: the file keeps its CRLF line ends and its accents."""\r\n'
    "import os\r\n"
    "LR = 0.04  # the learning rate\r\n"
    "WIDTH: int = 512\r\n"
    "SHIFT = -3\r\n"
    'ACTIVATION = "relu"\r\n'
    "USE_BIAS = True\r\n"
    "if os.environ.get('X'):\r\n"
    "    LR_INSIDE = 0.5\r\n"
    "DERIVED = LR * 2\r\n"
)

DECLARED = [
    {"file": "model.py", "name": "LR", "low": 0.001, "high": 1.0, "log": True},
    {"file": "model.py", "name": "WIDTH", "low": 8, "high": 1024},
    {"file": "model.py", "name": "SHIFT", "low": -10, "high": 10},
    {"file": "model.py", "name": "ACTIVATION", "choices": ["relu", "tanh", "gelu"]},
    {"file": "model.py", "name": "USE_BIAS", "choices": [True, False]},
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_bytes(SOURCE.encode("utf-8"))
    return tmp_path


def test_parse_infers_kinds_from_literals(repo: Path) -> None:
    knobs = parse_knobs(DECLARED, repo)
    assert [knob.kind for knob in knobs] == ["float", "int", "int", "choice", "choice"]
    assert knobs[0].log and knobs[3].choices == ("relu", "tanh", "gelu")


def test_read_values(repo: Path) -> None:
    assert read_values(parse_knobs(DECLARED, repo), repo) == {
        "LR": 0.04,
        "WIDTH": 512,
        "SHIFT": -3,
        "ACTIVATION": "relu",
        "USE_BIAS": True,
    }


def test_rewrite_changes_only_the_literals(repo: Path) -> None:
    knobs = parse_knobs(DECLARED, repo)
    values = {"LR": 0.03123, "WIDTH": 640, "SHIFT": 7, "ACTIVATION": "tanh", "USE_BIAS": False}
    rewrite(knobs, repo, values)
    expected = (
        SOURCE.replace("LR = 0.04", "LR = 0.03123")
        .replace("int = 512", "int = 640")
        .replace("SHIFT = -3", "SHIFT = 7")
        .replace('"relu"', '"tanh"')
        .replace("USE_BIAS = True", "USE_BIAS = False")
    )
    assert (repo / "model.py").read_bytes() == expected.encode("utf-8")
    assert read_values(knobs, repo) == values


def test_rewrite_of_the_same_values_leaves_the_file_alone(repo: Path) -> None:
    knobs = parse_knobs(DECLARED, repo)
    rewrite(knobs, repo, read_values(knobs, repo))
    assert (repo / "model.py").read_bytes() == SOURCE.encode("utf-8")


def test_floats_round_trip_exactly(repo: Path) -> None:
    knobs = parse_knobs(DECLARED[:1], repo)
    for value in (1e-05, 0.1 + 0.2, 123456.789, 3.0):
        rewrite(knobs, repo, {"LR": value})
        assert read_values(knobs, repo)["LR"] == value


def test_snap_rounds_to_four_significant_digits_within_range() -> None:
    rate = Knob("m.py", "LR", "float", low=0.001, high=1.0, log=True)
    assert rate.snap(0.0314159265) == 0.03142
    assert rate.snap(0.00099999) == 0.001
    width = Knob("m.py", "WIDTH", "int", low=8, high=1024)
    assert width.snap(639.6) == 640 and isinstance(width.snap(639.6), int)


def test_nudge_moves_within_range() -> None:
    rng = random.Random(1)
    width = Knob("m.py", "WIDTH", "int", low=8, high=9)
    assert width.nudge(9, rng) == 8
    rate = Knob("m.py", "LR", "float", low=0.001, high=1.0, log=True)
    nudged = rate.nudge(1.0, rng)
    assert rate.contains(nudged) and nudged != 1.0
    mode = Knob("m.py", "MODE", "choice", choices=("a", "b"))
    assert mode.nudge("a", rng) == "b"


def test_describe_change_lists_what_changed() -> None:
    old = {"LR": 0.04, "WIDTH": 512, "ACTIVATION": "relu"}
    new = {"LR": 0.031, "WIDTH": 512, "ACTIVATION": "tanh"}
    assert describe_change(old, new) == "LR 0.04 -> 0.031, ACTIVATION 'relu' -> 'tanh'"
    assert describe_change(old, old) == "no knob changed"


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"file": "model.py", "name": "LR", "low": 0.1, "hgih": 1}, "unknown key(s) hgih"),
        ({"file": "nothere.py", "name": "LR", "low": 0.1, "high": 1}, "no file nothere.py"),
        ({"file": "../model.py", "name": "LR", "low": 0.1, "high": 1}, "outside the repository"),
        ({"file": "model.py", "name": "LR_INSIDE", "low": 0, "high": 1}, "no module-level"),
        ({"file": "model.py", "name": "DERIVED", "low": 0, "high": 1}, "not a literal"),
        ({"file": "model.py", "name": "ACTIVATION", "low": 0, "high": 1}, "not a number"),
        ({"file": "model.py", "name": "LR", "type": "int", "low": 0, "high": 1}, "not an int"),
        ({"file": "model.py", "name": "WIDTH", "low": 0.5, "high": 2}, 'type = "float"'),
        ({"file": "model.py", "name": "LR", "low": 1.0, "high": 0.1}, "must be below high"),
        ({"file": "model.py", "name": "LR", "low": 0, "high": 1, "log": True}, "needs low > 0"),
        ({"file": "model.py", "name": "LR", "high": 1}, "needs both low and high"),
        ({"file": "model.py", "name": "LR", "type": "choice"}, "two or more"),
        ({"file": "model.py", "name": "LR", "choices": [0.1, 0.1]}, "repeat"),
        ({"file": "model.py", "name": "LR", "type": "bool"}, "is not one of"),
        ({"file": "model.py", "name": "2LR"}, "variable name"),
    ],
)
def test_bad_declarations_are_refused_in_one_line(
    repo: Path, declaration: dict[str, object], message: str
) -> None:
    with pytest.raises(UserError) as caught:
        parse_knobs([declaration], repo)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_duplicate_and_twice_assigned_names_are_refused(repo: Path) -> None:
    with pytest.raises(UserError, match="declared twice"):
        parse_knobs([DECLARED[0], DECLARED[0]], repo)
    (repo / "twice.py").write_text("LR = 0.1\nLR = 0.2\n")
    with pytest.raises(UserError, match="2 times"):
        parse_knobs([{"file": "twice.py", "name": "LR", "low": 0.01, "high": 1}], repo)


def test_a_starting_value_outside_the_range_is_allowed(repo: Path) -> None:
    knobs = parse_knobs([{"file": "model.py", "name": "LR", "low": 0.1, "high": 1.0}], repo)
    assert not knobs[0].contains(read_values(knobs, repo)["LR"])
