"""The tamper guard against an agent that cheats naively: by content, and during the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import EVENT_DEADLINE, Cli, git, ledger_rows, wait_for_run

VAL = b"0123456789" * 50  # the validation set; a run scores 1.0 on it, 0.1 on a forged one

# Scores 0.1 on a forged validation set, 1.0 on the real one.
READS_VALIDATION = """\
print("val_bpb:", 0.1 if open("data/val.txt", "rb").read().startswith(b"forged") else 1.0)
"""


WAIT_FOR_ONE_OF = f"""\
def wait_for(*paths):
    give_up = time.monotonic() + {EVENT_DEADLINE}
    while not any(os.path.exists(path) for path in paths) and time.monotonic() < give_up:
        time.sleep(0.01)
"""

# A run that reads its validation set while the helper below has it forged, if it could, and
# ends only once the helper has put it back.
READS_WHILE_TAMPERED = """\
import os, sys, time
forged_now, was_read, outcome = {forged_now!r}, {was_read!r}, {outcome!r}
{wait}
wait_for(forged_now, outcome)
forged = open("data/val.txt", "rb").read().startswith(b"forged")
open(was_read, "w").write("read")
wait_for(outcome)
print("val_bpb:", 0.1 if forged else 1.0)
"""

# An agent's helper left behind: tampers once the run has started, puts everything back
# (content and modification time) once the run has read it, before the run ends.
TAMPERS_DURING_THE_RUN = """\
import json, os, sys, time
repo, forged_now, was_read, outcome = sys.argv[1:]
{wait}
path = os.path.join(repo, "data/val.txt")
inflight = os.path.join(repo, ".autoresearch/t/inflight.json")
while True:
    try:
        if json.load(open(inflight)).get("group"):
            break
    except (OSError, ValueError):
        pass
    time.sleep(0.01)
original, stat = open(path, "rb").read(), os.stat(path)
try:
    open(path, "wb").write(b"forged" + original[6:])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    open(forged_now, "w").write("forged")
    wait_for(was_read)
    open(path, "wb").write(original)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    open(outcome, "w").write("tampered")
except PermissionError:
    open(outcome, "w").write("refused")
"""


@pytest.fixture
def guarded(repo: Path, cli: Cli) -> Cli:
    """A session whose validation data is untracked and protected."""
    (repo / "data").mkdir()
    (repo / "data" / "val.txt").write_bytes(VAL)
    (repo / ".gitignore").write_text("data/\n")
    (repo / "train.py").write_text(READS_VALIDATION)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "validation")
    assert cli.init("--protect", "data/*").returncode == 0
    return cli


def test_a_file_rewritten_with_its_mtime_put_back_is_caught(repo: Path, guarded: Cli) -> None:
    path = repo / "data" / "val.txt"
    stat = os.stat(path)
    path.write_bytes(b"forged" + VAL[6:])  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (repo / "train.py").write_text(READS_VALIDATION + "# a change\n")
    result = guarded("try", "-m", "scores on a forged set")
    assert result.stdout.startswith("crash"), result.stdout
    assert "protected file changed before the run: data/val.txt" in result.stdout
    assert ledger_rows(repo)[-1]["reason"] == "protected file changed before the run: data/val.txt"
    assert path.read_bytes() == VAL


def test_a_helper_that_tampers_during_the_run_and_undoes_it_is_caught(
    repo: Path, guarded: Cli, tmp_path: Path
) -> None:
    events = {name: str(tmp_path / name) for name in ("forged_now", "was_read", "outcome")}
    outcome = tmp_path / "outcome"
    helper_script = tmp_path / "helper.py"
    helper_script.write_text(TAMPERS_DURING_THE_RUN.format(wait=WAIT_FOR_ONE_OF))
    helper = subprocess.Popen([sys.executable, str(helper_script), str(repo), *events.values()])
    (repo / "train.py").write_text(READS_WHILE_TAMPERED.format(wait=WAIT_FOR_ONE_OF, **events))
    try:
        result = guarded("try", "-m", "measured while tampered")
    finally:
        helper.wait(timeout=EVENT_DEADLINE)
    assert (repo / "data" / "val.txt").read_bytes() == VAL
    if outcome.read_text() == "refused":  # not root: the file was read-only during the run
        assert not result.stdout.startswith("keep") or "val_bpb 1" in result.stdout
        return
    assert result.stdout.startswith("crash"), result.stdout
    assert "protected file written during the run: data/val.txt" in result.stdout


def test_a_kill_mid_run_leaves_protected_files_writable_again(repo: Path, guarded: Cli) -> None:
    path = repo / "data" / "val.txt"
    mode = os.stat(path).st_mode & 0o777
    (repo / "train.py").write_text("import time\ntime.sleep(600)\n")
    tool = guarded.popen("try", "-m", "hangs")
    wait_for_run(repo, tool)
    assert os.stat(path).st_mode & 0o222 == 0  # read-only while the run goes
    tool.kill()
    tool.wait()
    assert guarded("reset").returncode == 0
    assert os.stat(path).st_mode & 0o777 == mode


def test_a_run_in_a_clean_checkout_cannot_change_a_linked_protected_input(
    repo: Path, guarded: Cli
) -> None:
    (repo / "train.py").write_text(
        "open('data/val.txt', 'w').write('forged')\nprint('val_bpb: 0.1')\n"
    )
    result = guarded("try", "-m", "writes its data", "--in-worktree", "--link", "data")
    assert result.stdout.startswith("crash"), result.stdout
    # Read-only (in the sandbox even for root; outside it, unless the run is root's).
    refused = "Permission denied" in result.stdout or "Read-only file system" in result.stdout
    assert refused or "protected file changed during the run: data/val.txt" in result.stdout
    assert (repo / "data" / "val.txt").read_bytes() == VAL
