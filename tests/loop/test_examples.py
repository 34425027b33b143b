"""Each example in examples/ is a working project: copied into a new git repository, its settings
load, its knobs parse, and its baseline is measured through the real command line."""

from __future__ import annotations

import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

import pytest
from support import Cli, git, ledger_lines

from autoresearch.loop.agents.knobs import parse_knobs
from autoresearch.store.settings_file import read_settings_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())
AGENT_FLAGS = ("tune", "claude", "codex", "aider", "openai", "anthropic", "command")


def test_there_are_three_examples_and_the_first_is_the_demo_task() -> None:
    assert NAMES == ["numpy-classifier", "pure-python-speedup", "route-planning"]
    demo = resources.files("autoresearch.loop") / "demo_files"
    for name in ("train.py", "program.md"):
        assert (EXAMPLES / "numpy-classifier" / name).read_bytes() == (demo / name).read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_an_example_measures_its_baseline(name: str, tmp_path: Path) -> None:
    project = tmp_path / name
    shutil.copytree(EXAMPLES / name, project)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-qm", "start")
    settings, _ = read_settings_file(str(project))
    assert (project / "program.md").is_file()
    knobs = parse_knobs(settings["knob"], project)
    assert knobs  # every example can be driven by the tuner
    readme = (project / "README.md").read_text()
    for agent in AGENT_FLAGS:
        assert f"--agent {agent}" in readme
    # The settings say `python3 SCRIPT`; the README has the user give the interpreter's path.
    script = shlex.split(settings["run"])[-1]
    assert f'--run "$PY {script}"' in readme
    result = Cli(project)("init", "--tag", "ex", "--run", f"{sys.executable} {script}")
    assert result.returncode == 0, result.stdout + result.stderr
    header, baseline = ledger_lines(project)[:2]
    assert header[1] == settings["metric"]
    assert baseline[-2:] == ["keep", "baseline"] and float(baseline[1]) > 0
    assert git(project, "status", "--porcelain") == ""
