"""A random-kill campaign: signal `try` and `loop` at uniformly random moments, then check that
the session's books still agree.

Each trial edits the candidate, starts `autoresearch try` (or `loop` with a command agent), and
at a moment drawn uniformly over the command's usual duration sends one of: SIGKILL, SIGTERM,
SIGINT, or SIGINT twice (to the process group, as a terminal's Ctrl-C). Then the next command
recovers (`autoresearch reset` is not used: recovery alone runs, as any command would start), and
the invariants are checked:

- the tree is at the keep ref, or at a crashed or not yet measured candidate on top of it;
  uncommitted changes only in scope (an edit not yet tried when the kill came stays the user's);
- every ledger row's commit is pinned at its `exp/N`, and the keep ref is on a kept row;
- no commit is recorded twice, nothing is left in flight;
- no process of any run or agent is left (none carries an AUTORESEARCH_RUN_ID);
- the user's own files (outside scope) are untouched, and `git fsck` is clean;
- the session's record in git agrees: `status` shows no difference, `repair` finds nothing to
  repair, and every ledger row is in the record exactly once.

With ``--noisy`` the metric is noisy and the candidates near the baseline: they are run again,
with runs of the keep ref between theirs (the tree brought to the keep ref and back), and the
kills land there too.

Usage: python bench/kills.py [--trials 60] [--seed 1] [--noisy]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TRAIN = """\
import os, random, time
VALUE = {value}
NOISE = {noise}
time.sleep({sleep})
print("score:", VALUE + random.Random(os.environ["AUTORESEARCH_SEED"]).gauss(0, NOISE))
"""
AGENT = """\
import os, random
value = {center} + random.uniform(-{reach}, {reach})
open("train.py", "w").write({train!r}.format(value=value, noise={noise}, sleep=0.3))
open(os.environ["AUTORESEARCH_DESCRIPTION"], "w").write(f"value {{value:.3f}}")
"""
USER_FILE = "notes.txt"
SIGNALS = ("SIGKILL", "SIGTERM", "SIGINT", "SIGINT twice")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def autoresearch(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autoresearch", *args], cwd=repo, capture_output=True, text=True
    )


class Values:
    """What the candidates' metric looks like: random values of a deterministic metric, or
    values near the baseline's with noise (``--noisy``), so that candidates are run again, with
    runs of the keep ref between their runs, and kills land there too."""

    def __init__(self, noisy: bool) -> None:
        self.noise = 0.01 if noisy else 0.0
        # Within a sigma or so of the baseline: most look promising, few are kept for good.
        self.center, self.reach = (1.0, 0.01) if noisy else (0.5, 0.5)
        self.longest = 3.0 if noisy else 0.9  # a try's usual duration, in seconds

    def draw(self) -> float:
        return self.center + random.uniform(-self.reach, self.reach)

    def train(self, value: float) -> str:
        return TRAIN.format(value=value, noise=self.noise, sleep=0.3)


def make_session(root: Path, values: Values) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    (repo / "train.py").write_text(values.train(1.0))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    (repo / USER_FILE).write_text("the user's own notes\n")
    run = f"{sys.executable} train.py"
    init = autoresearch(
        repo, "init", "--tag", "k", "--run", run, "--metric", "score", "--scope", "train.py"
    )
    assert init.returncode == 0, init.stderr
    agent = AGENT.format(train=TRAIN, center=values.center, reach=values.reach, noise=values.noise)
    (root / "agent.py").write_text(agent)
    return repo


def start(repo: Path, command: str, trial: int, values: Values) -> subprocess.Popen[str]:
    if command == "try":
        (repo / "train.py").write_text(values.train(values.draw()))
        args = ["try", "-m", f"trial {trial}"]
    else:
        agent = f"{sys.executable} {repo.parent / 'agent.py'}"
        args = ["loop", "--agent", "command", "--agent-cmd", agent, "--max-experiments", "2"]
    return subprocess.Popen(
        [sys.executable, "-m", "autoresearch", *args],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group, as at a terminal
    )


def keep_ref_running(repo: Path) -> bool:
    """Whether the run in flight is one of the keep ref, between a candidate's repeats."""
    try:
        inflight = json.loads((repo / ".autoresearch/k/inflight.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(inflight.get("reference"))


def send(tool: subprocess.Popen[str], how: str) -> None:
    if how == "SIGKILL":
        tool.send_signal(signal.SIGKILL)
    elif how == "SIGTERM":
        tool.send_signal(signal.SIGTERM)
    else:
        os.killpg(tool.pid, signal.SIGINT)
        if how == "SIGINT twice":
            time.sleep(random.uniform(0.0, 0.3))
            if tool.poll() is None:
                os.killpg(tool.pid, signal.SIGINT)


def run_processes(root: Path) -> list[int]:
    """Processes of any run or agent of this campaign: they carry AUTORESEARCH_RUN_ID and work
    under its folder."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(os.path.join(entry.path, "environ"), "rb") as handle:
                    carries = b"AUTORESEARCH_RUN_ID=" in handle.read()
                inside = os.readlink(os.path.join(entry.path, "cwd")).startswith(str(root))
            except OSError:
                continue
            if carries and inside:
                found.append(int(entry.name))
    return found


def recover(repo: Path) -> None:
    """What any command does first: finish or void what a killed command left in flight."""
    code = (
        "from autoresearch.engine.recovery import locked\n"
        "from autoresearch.engine.session import Session\n"
        "with locked(Session.open('.')):\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, capture_output=True)


def broken_invariants(repo: Path) -> list[str]:
    problems = []
    rows = [line.split("\t") for line in (repo / "results.tsv").read_text().splitlines()[1:]]
    pins = dict(
        line.split(" ")
        for line in git(
            repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/autoresearch/k/exp/"
        ).splitlines()
    )
    for number, row in enumerate(rows):
        pinned = pins.get(f"refs/autoresearch/k/exp/{number}", "")
        if not pinned.startswith(row[0]):
            problems.append(f"row {number} ({row[0]}) is not pinned at exp/{number}")
    repeated = [commit for commit, count in Counter(r[0] for r in rows).items() if count > 1]
    if repeated:
        problems.append(f"recorded twice: {repeated}")
    keep = git(repo, "rev-parse", "refs/autoresearch/k/keep")
    if not any(keep.startswith(r[0]) and r[-2] == "keep" for r in rows):
        problems.append(f"keep ref {keep[:7]} is not on a kept row")
    head = git(repo, "rev-parse", "HEAD")
    crashed = {r[0] for r in rows if r[-2] == "crash"}
    recorded = {r[0] for r in rows}
    on_keep = head != keep and git(repo, "rev-parse", "HEAD~1") == keep
    # Killed between the commit and the in-flight record: the candidate, committed but untried,
    # is what the next `try` measures.
    if head != keep and not (on_keep and (head[:7] in crashed or head[:7] not in recorded)):
        problems.append(f"HEAD {head[:7]} is neither the keep ref nor a candidate on top of it")
    modified = git(repo, "diff", "--name-only", "HEAD").splitlines()
    outside = [path for path in modified if path not in ("train.py", USER_FILE)]
    if outside:
        problems.append(f"files out of scope left modified: {outside}")
    if (repo / ".autoresearch/k/inflight.json").exists():
        problems.append("an experiment is still in flight after recovery")
    if (repo / USER_FILE).read_text() != "the user's own notes\n":
        problems.append("the user's file was changed")
    left = run_processes(repo.parent)
    if left:
        problems.append(f"processes left: {left}")
    fsck = subprocess.run(["git", "fsck", "--no-progress"], cwd=repo, capture_output=True)
    if fsck.returncode != 0:
        problems.append("git fsck failed")
    return problems + record_problems(repo, len(rows))


def record_problems(repo: Path, rows: int) -> list[str]:
    """Where the files and the record in git disagree."""
    problems = []
    status = autoresearch(repo, "status", "--json")
    if status.returncode != 0:
        problems.append(f"status failed: {status.stderr.strip()}")
    elif json.loads(status.stdout)["record"]:
        problems.append(f"status: {json.loads(status.stdout)['record']}")
    repair = autoresearch(repo, "repair")
    if "nothing to repair" not in repair.stdout:
        problems.append(f"repair: {repair.stdout.strip()} {repair.stderr.strip()}")
    log = git(repo, "log", "--format=%B", "refs/autoresearch/k/journal")
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    # Each experiment's verdict once (its begin entry, written before it ran, aside).
    numbers = sorted(e["experiment"] for e in entries if e.get("kind") == "experiment")
    if numbers != list(range(rows)):
        problems.append(f"{rows} ledger rows, the record has experiments {numbers[-3:]}...")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noisy", action="store_true", help="a noisy metric: runs repeated")
    options = parser.parse_args()
    values = Values(options.noisy)
    random.seed(options.seed)
    failures: list[tuple[int, str, str, float, list[str]]] = []
    tally: Counter[tuple[str, str]] = Counter()
    during_keep_ref = 0
    with tempfile.TemporaryDirectory() as root:
        repo = make_session(Path(root), values)
        for trial in range(options.trials):
            command = ("try", "loop")[trial % 2]
            how = SIGNALS[(trial // 2) % len(SIGNALS)]
            # Over the command's whole life: start-up, commit, run (0.3 s), bookkeeping.
            moment = random.uniform(0.0, values.longest * (1 if command == "try" else 2.2))
            tool = start(repo, command, trial, values)
            time.sleep(moment)
            if tool.poll() is None:
                during_keep_ref += keep_ref_running(repo)
                send(tool, how)
            tool.wait(timeout=60)
            recover(repo)
            problems = broken_invariants(repo)
            tally[(command, how)] += 1
            if problems:
                failures.append((trial, command, how, moment, problems))
            autoresearch(repo, "reset")  # a crashed candidate, an untried edit: start clean
    for (command, how), count in sorted(tally.items()):
        print(f"{command:5} {how:13} {count:3} trials")
    if options.noisy:
        print(f"{during_keep_ref} signals came while the keep ref ran again between repeats")
    print(f"{options.trials} trials, {len(failures)} with a broken invariant")
    for trial, command, how, moment, problems in failures:
        print(f"  trial {trial}: {command} {how} at {moment:.2f} s: {'; '.join(problems)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
