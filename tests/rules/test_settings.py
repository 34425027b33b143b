from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from autoresearch.errors import UserError
from autoresearch.rules.settings import build_settings, default_tag
from autoresearch.store.settings_file import read_settings_file

FLAGS_NONE: dict[str, object] = {"tag": None, "run": None, "metric": None, "direction": None}


def test_settings_file_then_flags_override(tmp_path: Path) -> None:
    (tmp_path / "autoresearch.toml").write_text(
        'run = "python train.py"\nmetric = "val_bpb"\nbudget = 300\nscope = ["train.py"]\n'
    )
    values, source = read_settings_file(tmp_path)
    assert source == "autoresearch.toml"
    settings = build_settings(values, {**FLAGS_NONE, "metric": "val_loss", "budget": "60"})
    assert (settings.run, settings.metric, settings.budget) == ("python train.py", "val_loss", 60)
    assert settings.scope == ("train.py",)
    assert settings.kill_after == 120


def test_pyproject_tool_section(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.autoresearch]\nrun = "make bench"\nmetric = "latency_ms"\n'
        'direction = "lower"\n'
    )
    values, source = read_settings_file(tmp_path)
    settings = build_settings(values, FLAGS_NONE)
    assert source == "pyproject.toml"
    assert settings.direction == "minimize"


@pytest.mark.parametrize(
    ("word", "direction"),
    [("min", "minimize"), ("lower", "minimize"), ("MAX", "maximize"), ("higher", "maximize")],
)
def test_direction_synonyms(word: str, direction: str) -> None:
    settings = build_settings({}, {"run": "x", "metric": "m", "direction": word})
    assert settings.direction == direction


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"metric": "m"}, "no run command"),
        ({"run": "x"}, "no metric"),
        ({"run": 5, "metric": "m"}, "run must be text in quotes, not 5"),
        ({"run": "x", "metric": ["loss"]}, "metric must be text in quotes"),
        ({"run": "  ", "metric": "m"}, "no run command"),
        ({"run": "x", "metric": "m", "budget": "0"}, "budget must be a positive number"),
        ({"run": "x", "metric": "m", "budget": "soon"}, "budget must be a positive number"),
        ({"run": "x", "metric": "m", "pattern": "val: ("}, "bad --pattern"),
        ({"run": "x", "metric": "m", "pattern": r"val: \S+"}, "no capture group"),
        ({"run": "x", "metric": "m", "direction": "down"}, "direction"),
        ({"run": "x", "metric": "m", "tag": "a b"}, "tag"),
    ],
)
def test_bad_input_is_one_clear_error(flags: dict[str, object], message: str) -> None:
    with pytest.raises(UserError, match=message):
        build_settings({}, flags)


def test_unknown_setting_in_file_is_refused() -> None:
    with pytest.raises(UserError, match="unknown setting.*budgett"):
        build_settings({"run": "x", "metric": "m", "budgett": 3}, {})


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "autoresearch.toml").write_text("run = \n")
    with pytest.raises(UserError, match="not valid TOML"):
        read_settings_file(tmp_path)


def test_default_tag_is_the_date() -> None:
    assert default_tag(datetime.date(2026, 11, 25)) == "nov25"
    assert default_tag(datetime.date(2026, 3, 8)) == "mar8"
