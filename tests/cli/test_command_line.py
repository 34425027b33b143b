"""A command line argparse refuses is refused like any other bad input: one line, exit 2, and
nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Cli, repo_state


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (("try",), "autoresearch try: the following arguments are required: -m/--message"),
        (("retry", "two"), "autoresearch retry: argument N: invalid int value: 'two'"),
        (("status", "extra"), "autoresearch: unrecognized arguments: extra"),
        (("tyr", "-m", "x"), "autoresearch: argument COMMAND: invalid choice: 'tyr'"),
        (("rewind",), "autoresearch rewind: the following arguments are required"),
    ],
)
def test_a_command_line_that_cannot_be_parsed_is_one_line_and_changes_nothing(
    repo: Path, kept_session: Cli, words: tuple[str, ...], said: str
) -> None:
    before = repo_state(repo)
    result = kept_session(*words)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(said), result.stderr
    assert result.stderr.rstrip().endswith("--help)")
    assert result.stdout == ""
    assert repo_state(repo) == before
