"""Does the record survive the tool being killed at any moment? A random-kill campaign.

Each trial starts `autoresearch try` (or `loop` with a stand-in agent), sends SIGKILL, SIGTERM,
SIGINT or SIGINT twice at a uniformly random moment of it, then checks what the record promises:
`status` shows no difference from the record, the next command (`reset`) recovers without a
refusal, `repair` then finds nothing to repair, every ledger row is in the record exactly once,
and `git fsck` is clean.

Usage: python bench/record_kills.py [--trials N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch_repo import git

CLI = [sys.executable, "-m", "autoresearch"]
TRAIN = (
    "import os, random, time\n"
    "rng = random.Random(os.environ.get('AUTORESEARCH_SEED'))\n"
    "time.sleep(rng.random() * 0.3)\n"
    "print(f'score: {{rng.random() + {value}:.6f}}')\n"
)
AGENT = (
    "import pathlib, random\n"
    "path = pathlib.Path('train.py')\n"
    "path.write_text(path.read_text() + f'# {random.random()}\\n')\n"
)
SIGNALS = ("KILL", "TERM", "INT", "INT twice")


def cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=repo, capture_output=True, text=True, timeout=120)


def make_session(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "train.py").write_text(TRAIN.format(value=0))
    (repo / "agent.py").write_text(AGENT)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    init = ["init", "--tag", "k", "--run", f"{sys.executable} train.py", "--metric", "score"]
    result = cli(repo, *init, "--scope", "train.py", "--noise", "off")
    assert result.returncode == 0, result.stderr
    return repo


def one_trial(repo: Path, rng: random.Random, trial: int) -> list[str]:
    (repo / "train.py").write_text(TRAIN.format(value=rng.random()))
    if rng.random() < 0.5:
        agent = f"{sys.executable} agent.py"
        args = ["loop", "--agent", "command", "--agent-cmd", agent, "--max-experiments", "3"]
        window = 3.0
    else:
        args, window = ["try", "-m", f"trial {trial}"], 1.0
    process = subprocess.Popen(
        [*CLI, *args], cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(rng.uniform(0, window))
    how = rng.choice(SIGNALS)
    process.send_signal(getattr(signal, f"SIG{how.split()[0]}"))
    if how == "INT twice":
        time.sleep(0.05)
        process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    return [f"trial {trial} ({args[0]}, SIG{how}): {p}" for p in check(repo)]


def check(repo: Path) -> list[str]:
    found = []
    status = cli(repo, "status", "--json")
    if status.returncode != 0:
        found.append(f"status failed: {status.stderr.strip()}")
    elif json.loads(status.stdout)["record"]:
        found.append(f"status: {json.loads(status.stdout)['record']}")
    reset = cli(repo, "reset")
    if reset.returncode != 0:
        found.append(f"reset refused: {reset.stderr.strip()}")
    repair = cli(repo, "repair")
    if "nothing to repair" not in repair.stdout:
        found.append(f"repair: {repair.stdout.strip()} {repair.stderr.strip()}")
    log = subprocess.run(
        ["git", "log", "--format=%B", "refs/autoresearch/k/journal"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout
    entries = [line for line in log.splitlines() if line.startswith("{")]
    numbers = [json.loads(e).get("experiment") for e in entries]
    numbers = [n for n in numbers if n is not None]
    if len(numbers) != len(set(numbers)):
        found.append("an experiment is in the record twice")
    rows = (repo / "results.tsv").read_text().count("\n") - 1
    if sorted(numbers) != list(range(rows)):
        found.append(f"{rows} ledger rows, record has experiments {sorted(numbers)[-3:]}...")
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, capture_output=True)
    if fsck.returncode != 0:
        found.append(f"git fsck: {fsck.stderr.decode().strip()}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        repo = make_session(Path(folder))
        problems = []
        for trial in range(args.trials):
            problems += one_trial(repo, rng, trial)
        rows = (repo / "results.tsv").read_text().count("\n") - 1
    print(f"{args.trials} trials, {rows} experiments recorded, {len(problems)} problems")
    for problem in problems:
        print(f"  {problem}")


if __name__ == "__main__":
    main()
