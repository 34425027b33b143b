"""The agent instructions: generated from the real parser, installed without clobbering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import Cli, git

from autoresearch.cli.main import build_parser
from autoresearch.loop.skill import END_MARKER, SKILL_DESCRIPTION, START_MARKER, subcommands

COMMAND = re.compile(r"\bautoresearch ([a-z][\w-]*)((?: [^`\n]*)?)")


def named_commands(text: str) -> list[tuple[str, list[str]]]:
    """Every `autoresearch NAME ...` in the text, with the flags written after it."""
    joined = text.replace("\\\n", " ")
    return [
        (name, [word.split("=")[0] for word in rest.split() if word.startswith("-")])
        for name, rest in COMMAND.findall(joined)
    ]


def test_the_text_names_only_real_commands_and_flags(tmp_path: Path) -> None:
    text = Cli(tmp_path)("skill").stdout
    commands = subcommands(build_parser())
    named = named_commands(text)
    assert {name for name, _ in named} >= {"init", "try", "status", "reset", "rewind"}
    for name, flags in named:
        assert name in commands, f"`autoresearch {name}` is not a command"
        known = {flag for action in commands[name][1]._actions for flag in action.option_strings}
        assert set(flags) <= known, f"`autoresearch {name}`: unknown flags {set(flags) - known}"


def test_the_reference_follows_the_parser(tmp_path: Path) -> None:
    text = Cli(tmp_path)("skill").stdout
    for name in subcommands(build_parser()):
        assert f"`autoresearch {name}" in text
    assert "- `--budget BUDGET`: seconds a run is meant to take; killed at 2x" in text
    assert "- `--min-delta MIN_DELTA`: smallest improvement worth keeping: X or X%" in text
    assert "### `autoresearch try -m MESSAGE`" in text
    for rule in ("Never run the experiment yourself", "tail -n 50 run.log", "until you are"):
        assert rule in text


def test_install_claude_writes_a_skill_with_front_matter(repo: Path, cli: Cli) -> None:
    result = cli("skill", "--install", "claude")
    assert result.returncode == 0, result.stderr
    path = repo / ".claude/skills/autoresearch/SKILL.md"
    assert str(path) in result.stdout
    text = path.read_text()
    front, body = text.split("\n---\n\n", 1)
    assert front.splitlines()[:2] == ["---", "name: autoresearch"]
    assert front.splitlines()[2].startswith('description: "Runs an autonomous experiment loop')
    assert len(SKILL_DESCRIPTION) <= 1024 and "<" not in SKILL_DESCRIPTION
    assert body == cli("skill").stdout
    assert cli("skill", "--install", "claude").stdout.startswith("updated: ")


@pytest.mark.parametrize("target", ["agents-md", "codex"])
def test_install_into_agents_md_keeps_the_rest_of_the_file(
    repo: Path, cli: Cli, target: str
) -> None:
    before, after = "# My project\r\n\r\nBuild with make.\r\n", "\n## Later notes\nKeep this.\n"
    agents = repo / "AGENTS.md"
    agents.write_bytes(before.encode())
    first = cli("skill", "--install", target)
    assert first.returncode == 0 and first.stdout.startswith("section appended: ")
    installed = agents.read_bytes().decode()
    assert installed.startswith(before) and installed.count(START_MARKER) == 1
    assert "\n## Run an experiment loop with autoresearch\n" in installed
    assert "\n### 1. Agree on the parameters with the human\n" in installed
    agents.write_bytes((installed.replace("## Run an experiment", "## Old text") + after).encode())
    second = cli("skill", "--install", target)
    assert second.stdout.startswith("section replaced: ")
    assert agents.read_bytes().decode() == installed + after


def test_install_refuses_unpaired_markers_and_notes_a_tracked_file(repo: Path, cli: Cli) -> None:
    agents = repo / "AGENTS.md"
    agents.write_text(f"notes\n{END_MARKER}\n")
    refused = cli("skill", "--install", "agents-md")
    assert refused.returncode == 2 and "not a pair" in refused.stderr
    assert agents.read_text() == f"notes\n{END_MARKER}\n"
    agents.write_text("notes\n")
    git(repo, "add", "AGENTS.md")
    git(repo, "commit", "-qm", "agents")
    tracked = cli("skill", "--install", "agents-md")
    assert tracked.returncode == 0 and "AGENTS.md is tracked by git" in tracked.stdout
