"""The tamper guard against an agent that cheats naively: by content, and during the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import Cli, git

VAL = b"0123456789" * 50  # the validation set; a run scores 1.0 on it, 0.1 on a forged one

# Scores 0.1 on a forged validation set, 1.0 on the real one.
READS_VALIDATION = """\
import time
time.sleep({pause_before})
forged = open("data/val.txt", "rb").read().startswith(b"forged")
time.sleep({pause_after})
print("val_bpb:", 0.1 if forged else 1.0)
"""


def train(pause_before: float = 0, pause_after: float = 0) -> str:
    return READS_VALIDATION.format(pause_before=pause_before, pause_after=pause_after)


# An agent's helper left behind: tampers once the run has started, puts everything back
# (content and modification time) before the run ends.
TAMPERS_DURING_THE_RUN = """\
import json, os, sys, time
repo, out = sys.argv[1], sys.argv[2]
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
    time.sleep(1.0)
    open(path, "wb").write(original)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    open(out, "w").write("tampered")
except PermissionError:
    open(out, "w").write("refused")
"""


@pytest.fixture
def guarded(repo: Path, cli: Cli) -> Cli:
    """A session whose validation data is untracked and protected."""
    (repo / "data").mkdir()
    (repo / "data" / "val.txt").write_bytes(VAL)
    (repo / ".gitignore").write_text("data/\n")
    (repo / "train.py").write_text(train())
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "validation")
    assert cli.init("--protect", "data/*").returncode == 0
    return cli


def test_a_file_rewritten_with_its_mtime_put_back_is_caught(repo: Path, guarded: Cli) -> None:
    path = repo / "data" / "val.txt"
    stat = os.stat(path)
    path.write_bytes(b"forged" + VAL[6:])  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (repo / "train.py").write_text(train() + "# a change\n")
    result = guarded("try", "-m", "scores on a forged set")
    assert result.stdout.startswith("crash"), result.stdout
    assert "protected file changed before the run: data/val.txt" in result.stdout
    assert path.read_bytes() == VAL


def test_a_helper_that_tampers_during_the_run_and_undoes_it_is_caught(
    repo: Path, guarded: Cli, tmp_path: Path
) -> None:
    outcome = tmp_path / "helper-outcome"
    helper_script = tmp_path / "helper.py"
    helper_script.write_text(TAMPERS_DURING_THE_RUN)
    helper = subprocess.Popen([sys.executable, str(helper_script), str(repo), str(outcome)])
    (repo / "train.py").write_text(train(pause_before=0.5, pause_after=1.5))
    try:
        result = guarded("try", "-m", "measured while tampered")
    finally:
        helper.wait(timeout=30)
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
    inflight = repo / ".autoresearch/t/inflight.json"
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline
        try:
            if json.loads(inflight.read_text()).get("group"):
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
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
    refused = "Permission denied" in result.stdout  # read-only, unless the run is root's
    assert refused or "protected file changed during the run: data/val.txt" in result.stdout
    assert (repo / "data" / "val.txt").read_bytes() == VAL
