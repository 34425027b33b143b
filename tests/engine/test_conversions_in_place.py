"""A run in place reads the bytes a checkout of its commit holds, whatever a text conversion
lets the disk hold instead: under ``text=auto`` a file rewritten with CRLF line ends is stored
with LF, and a checkout writes LF; the run is shown the checkout's bytes (or, without the
sandbox, does not go). Where a checkout itself writes CRLF (``eol=crlf``), nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Cli, git, session_flags, tried_json

from autoresearch.store import sandbox

NEEDS_SANDBOX = pytest.mark.skipif(
    sandbox.unavailable() is not None, reason=f"no sandbox here: {sandbox.unavailable()}"
)
WHERE = pytest.mark.parametrize(
    "where", [(), ("--in-worktree",)], ids=["in place", "in a worktree"]
)
# Better when README.md's bytes on disk hold a CR, which no checkout of the commit writes.
READS_THE_README = """\
VALUE = 0.5 if b"\\r" in open("README.md", "rb").read() else 1.0
print(f"val_bpb: {VALUE}")
"""
NOTE = "shown to its runs as a checkout of its commit has them: README.md"


def start(repo: Path, cli: Cli, attributes: str, *flags: str) -> None:
    (repo / ".gitattributes").write_text(attributes)
    (repo / "train.py").write_text(READS_THE_README)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "reads its README")
    git(repo, "rm", "-q", "--cached", "-r", ".")
    git(repo, "reset", "-q", "--hard")  # the files as a checkout under these attributes has them
    result = cli("init", *session_flags(), "--noise", "off", *flags)
    assert result.returncode == 0, result.stderr


def crlf(path: Path) -> None:
    """The file with CRLF line ends: under text=auto, stored as it was."""
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


@NEEDS_SANDBOX
@WHERE
def test_a_file_rewritten_with_crlf_is_read_as_its_checkout_writes_it(
    repo: Path, cli: Cli, where: tuple[str, ...]
) -> None:
    start(repo, cli, "* text=auto\n", "--scope", "train.py", "--scope", "README.md")
    crlf(repo / "README.md")  # git stores it as it was
    with open(repo / "train.py", "a") as file:
        file.write("# an edit\n")
    outcome = tried_json(cli, *where)
    assert outcome["value"] == 1.0 and outcome["status"] != "keep", outcome
    assert b"\r" not in git(repo, "show", f"{outcome['commit']}:README.md").encode()
    assert b"\r\n" in (repo / "README.md").read_bytes()  # the file itself is left as it was
    if not where:
        assert any(NOTE in note for note in outcome["notes"]), outcome


@NEEDS_SANDBOX
def test_a_candidate_written_with_crlf_is_run_as_its_commit_holds_it(repo: Path, cli: Cli) -> None:
    start(repo, cli, "* text=auto\n", "--scope", "train.py")
    (repo / "train.py").write_bytes(
        b'VALUE = 0.5 if b"\\r" in open(__file__, "rb").read() else 1.0\r\n'
        b'print(f"val_bpb: {VALUE}")\r\n'
    )
    outcome = tried_json(cli)
    assert outcome["value"] == 1.0, outcome
    assert b"\r" not in git(repo, "show", f"{outcome['commit']}:train.py").encode()
    assert any("train.py" in note and "text conversion" in note for note in outcome["notes"])


def test_without_the_sandbox_the_run_does_not_go(repo: Path, cli: Cli) -> None:
    start(
        repo,
        cli,
        "* text=auto\n",
        "--scope",
        "train.py",
        "--scope",
        "README.md",
        "--sandbox",
        "off",
    )
    crlf(repo / "README.md")
    with open(repo / "train.py", "a") as file:
        file.write("# an edit\n")
    outcome = tried_json(cli)
    assert outcome["status"] == "crash", outcome
    assert "text conversion" in str(outcome["reason"]) and "README.md" in str(outcome["reason"])


@NEEDS_SANDBOX
def test_where_a_checkout_writes_crlf_the_run_reads_what_it_wrote(repo: Path, cli: Cli) -> None:
    start(repo, cli, "README.md text eol=crlf\n", "--scope", "train.py")
    assert b"\r\n" in (repo / "README.md").read_bytes()  # as the checkout wrote it
    with open(repo / "train.py", "a") as file:
        file.write("# an edit\n")
    outcome = tried_json(cli)
    assert outcome["value"] == 0.5 and outcome["notes"] == [], outcome
