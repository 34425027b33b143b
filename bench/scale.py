"""How well runners are kept busy, and what parallelism costs, with a scripted agent and
sleep-based runs (so the machine's cores are not the bottleneck), side by side in one run:

- duty cycle (run time / wall time) with an agent taking half a run's time: sequential
  against --pipeline (target >= 95%);
- throughput with 1, 2, 4 and 8 workers on the local pool (target >= 0.9 x N), and on a local
  Ray runtime with 8 logical GPUs (target >= 0.8 x N);
- experiments needed to reach the known optimum of a noisy synthetic task, sequential against
  4 workers, and the wall time that took, in rounds of runs and in seconds; and the false-keep
  rate under pure noise (candidates no better than their base), each session with noise of its
  own.

Every loop is the real CLI (`autoresearch loop --agent command`) in a scratch repository.

Usage: python bench/scale.py [--quick] [--no-ray]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

# Three knobs on lines far apart (ideas on different knobs merge cleanly); the score is the
# squared distance to (3, -1, 2) plus noise seeded by the session and the run (the tool's seed
# alone depends only on the experiment's number: every session would draw the same noise).
# IRRELEVANT changes nothing.
TRAIN = """\
import os, random, time
X = 0
IRRELEVANT = 0
RUN_SECONDS = {run_seconds}
NOISE = {noise}
{spacer}
Y = 0
{spacer}
Z = 0
session = os.environ.get("AUTORESEARCH_BENCH_SESSION", "0")
random.seed(f"{{session}}-{{os.environ.get('AUTORESEARCH_SEED', '0')}}")
began = time.time()
time.sleep(RUN_SECONDS)
with open(os.environ["AUTORESEARCH_BENCH_TIMES"], "a") as times:
    commit = os.environ.get("AUTORESEARCH_COMMIT", "")[:7] or "-"
    place = os.path.basename(os.getcwd())  # the worker's checkout: which worker ran it
    number = os.environ.get("AUTORESEARCH_EXPERIMENT", "0")
    times.write(f"{{began}} {{time.time()}} {{commit}} {{place}} {{number}}\\n")
true = (X - 3) ** 2 + (Y + 1) ** 2 + (Z - 2) ** 2
print(f"score: {{true + random.gauss(0, NOISE):.6f}}")
"""
SPACER = "\n".join(f"# {'-' * 20} {i}" for i in range(6))
OPTIMUM = {"X": 3, "Y": -1, "Z": 2}

# Moves one knob by one step (or only IRRELEVANT), taking AGENT_SECONDS to think.
AGENT = """\
import os, pathlib, random, re, sys, time
state = pathlib.Path(sys.argv[1])
call = int(state.read_text()) if state.exists() else 0
state.write_text(str(call + 1))
time.sleep(float(sys.argv[2]))
mode = sys.argv[3]
rng = random.Random(call * 7919 + int(sys.argv[4]))
text = pathlib.Path("train.py").read_text()
if mode == "noise":
    name, value = "IRRELEVANT", call + 1
else:
    name = rng.choice(["X", "Y", "Z"])
    current = int(re.search(name + r" = (-?\\d+)", text).group(1))
    value = current + rng.choice([-1, 1])
text = re.sub(name + r" = .*", f"{name} = {value}", text)
pathlib.Path("train.py").write_text(text)
pathlib.Path(os.environ["AUTORESEARCH_DESCRIPTION"]).write_text(f"{name} = {value}\\n")
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def scratch(root: Path, name: str, run_seconds: float, noise: float) -> Path:
    repo = root / name
    repo.mkdir()
    times_file(repo).parent.mkdir(exist_ok=True)
    text = TRAIN.format(run_seconds=run_seconds, noise=noise, spacer=SPACER)
    (repo / "train.py").write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "start")
    (root / f"{name}.agent.py").write_text(AGENT)
    return repo


def loop(
    repo: Path,
    agent_seconds: float,
    experiments: int,
    flags: Sequence[str] = (),
    mode: str = "search",
    seed: int = 0,
    noise_flags: Sequence[str] = ("--noise", "off", "--repeats", "1"),
) -> float:
    """Start the session (baseline measured), then time the loop alone; returns seconds."""
    agent = repo.parent / f"{repo.name}.agent.py"
    state = repo.parent / f"{repo.name}.calls"
    command = f"{sys.executable} {agent} {state} {agent_seconds} {mode} {seed}"
    cli = [sys.executable, "-m", "autoresearch"]
    env = {
        **os.environ,
        "AUTORESEARCH_BENCH_TIMES": str(times_file(repo)),
        "AUTORESEARCH_BENCH_SESSION": str(seed),
    }
    init = ["init", "--tag", "b", "--run", f"{sys.executable} train.py", "--metric", "score"]
    # Runs are sandboxed with a scrubbed environment: they get the bench's variables by name and
    # may write the folder of the times files, nothing else outside their checkout.
    passed = ["--pass-env", "AUTORESEARCH_BENCH_TIMES", "--pass-env", "AUTORESEARCH_BENCH_SESSION"]
    writable = ["--writable", str(times_file(repo).parent)]
    started_session = subprocess.run(
        [*cli, *init, "--scope", "train.py", *passed, *writable, *noise_flags],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )
    if started_session.returncode != 0:
        sys.exit(f"init failed in {repo}: {started_session.stderr.strip()}")
    started = time.perf_counter()
    subprocess.run(
        [
            *cli,
            "loop",
            "--agent",
            "command",
            "--agent-cmd",
            command,
            "--max-experiments",
            str(experiments),
            *flags,
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - started


def times_file(repo: Path) -> Path:
    """Where the runs of ``repo`` note when they began and ended (a folder beside the repos)."""
    return repo.parent / "times" / f"{repo.name}.times"


def rows(repo: Path) -> list[dict[str, str]]:
    lines = [line.split("\t") for line in (repo / "results.tsv").read_text().splitlines()]
    return [dict(zip(lines[0], line, strict=False)) for line in lines[1:]]


def run_times(repo: Path) -> list[tuple[float, float]]:
    """When each run of the loop began and ended (the baseline, run by `init`, left out)."""
    return [(run.began, run.ended) for run in runs(repo)]


class Run(NamedTuple):
    began: float
    ended: float
    commit: str
    worker: str
    experiment: int


def runs(repo: Path) -> list[Run]:
    """Every run the loop made (the baseline's, made by `init`, left out), in the order they
    began; the keep ref's runs between a candidate's repeats among them."""
    lines = times_file(repo).read_text().splitlines()
    found = [line.split() for line in lines if line.strip()]
    made = sorted(Run(float(a), float(b), c, w, int(n)) for a, b, c, w, n in found)
    return [run for run in made if run.experiment != 0]


def steady_share(repo: Path, workers: int) -> float:
    """Runs going at once, on average, once every worker has had its first run and until the
    last run began: the rate a long session keeps, without its start and its end."""
    times = run_times(repo)
    begin, end = times[workers - 1][0], times[-1][0]
    if end <= begin:
        return float("nan")
    overlap = sum(max(0.0, min(b, end) - max(a, begin)) for a, b in times)
    return overlap / (end - begin)


def busy_share(repo: Path) -> tuple[float, float]:
    """Run time over the wall time from the loop's first run to its last; that wall time."""
    times = run_times(repo)
    wall = max(end for _, end in times) - times[0][0]
    return sum(end - begin for begin, end in times) / wall, wall


def duty_cycle(root: Path, run: float, experiments: int) -> None:
    print(f"duty cycle: runs of {run:g} s, agent {run / 2:g} s, {experiments} experiments")
    for name, flags in (("sequential", ()), ("--pipeline", ("--pipeline",))):
        repo = scratch(root, f"duty{len(flags)}", run, 0.0)
        whole = loop(repo, run / 2, experiments, flags)
        share, wall = busy_share(repo)
        print(f"  {name:12s} {share:6.1%}  (first run to last {wall:.1f} s, loop {whole:.1f} s)")


def throughput(
    root: Path, run: float, per_worker: int, counts: Sequence[int], ray_address: str | None
) -> None:
    print(f"throughput: runs of {run:g} s, agent 0 s, {per_worker} experiments per worker")
    # The agent prepares the next candidate while runs go (implied with several workers).
    setups = [(f"pool {n}", n, ("--workers", str(n), "--pipeline")) for n in counts]
    if ray_address:
        ray = ("--executor", "ray", "--ray-address", ray_address, "--gpus-per-run", "1")
        setups.append(("ray 8", 8, (*ray, "--workers", "8")))
    for name, workers, flags in setups:
        repo = scratch(root, f"tp-{name.replace(' ', '')}", run, 0.0)
        whole = loop(repo, 0.0, workers * per_worker, flags)
        share, wall = busy_share(repo)  # runs going at once, on average, first run to last
        steady = steady_share(repo, workers)
        print(
            f"  {name:8s} steady {steady:5.2f} x one runner ({steady / workers:4.0%} of {workers})"
            f"; first run to last {share:5.2f} ({share / workers:4.0%})"
            f"  {len(run_times(repo))} runs in {wall:.1f} s (loop {whole:.1f} s)"
        )


def at_optimum(repo: Path, commit: str) -> bool:
    text = git(repo, "show", f"{commit}:train.py")
    return all(f"\n{name} = {value}\n" in text for name, value in OPTIMUM.items())


def rounds(made: Sequence[Run], until: float) -> int:
    """The wall time until ``until`` in rounds of runs: the most runs one worker made in it.
    Sequentially every run is a round; with N workers kept busy, N runs go in one."""
    per_worker: dict[str, int] = {}
    for run in made:
        if run.ended <= until:
            per_worker[run.worker] = per_worker.get(run.worker, 0) + 1
    return max(per_worker.values(), default=0)


def experiments_to_optimum(root: Path, seeds: Sequence[int], limit: int) -> None:
    print(
        f"price of parallelism: experiments, rounds of runs and wall seconds from the loop's first"
        f" run until the keep ref is at the optimum (noise 0.3, at most {limit}, seeds"
        f" {list(seeds)})"
    )
    for name, flags in (("sequential", ()), ("4 workers", ("--workers", "4"))):
        needed: list[float] = []
        waited: list[float] = []
        waited_rounds: list[float] = []
        for seed in seeds:
            repo = scratch(root, f"opt{len(flags)}-{seed}", 0.05, 0.3)
            loop(repo, 0.0, limit, flags, seed=seed, noise_flags=())
            found = next(
                (
                    (i, row["commit"])
                    for i, row in enumerate(rows(repo)[1:], 1)
                    if row["status"] == "keep" and at_optimum(repo, row["commit"])
                ),
                None,
            )
            made = runs(repo)
            if found is None:
                needed.append(limit * 2)
                waited.append(float("inf"))
                waited_rounds.append(float("inf"))
                continue
            needed.append(found[0])
            # Kept once the last run of its own experiment ended (its runs as the keep ref in
            # later experiments came after): the wall time the user waited for the optimum.
            own = [run for run in made if run.commit == found[1][:7]]
            tried_in = min(run.experiment for run in own)
            ended = max(run.ended for run in own if run.experiment == tried_in)
            waited.append(ended - made[0].began)
            waited_rounds.append(rounds(made, ended))
        shown = [n if n <= limit else f">{limit}" for n in needed]
        seconds = [f"{w:.1f}" if w != float("inf") else "never" for w in waited]
        in_rounds = [f"{r:g}" if r != float("inf") else "never" for r in waited_rounds]
        print(
            f"  {name:12s} median {statistics.median(needed):g} experiments  {shown}; "
            f"median {statistics.median(waited_rounds):g} rounds  {in_rounds}; "
            f"median {statistics.median(waited):.1f} s  {seconds}"
        )


def false_keeps(root: Path, seeds: Sequence[int], experiments: int) -> None:
    print(f"false keeps under pure noise (sigma 0.3; {experiments} experiments x {len(seeds)})")
    for name, flags in (("sequential", ()), ("4 workers", ("--workers", "4"))):
        kept = total = 0
        for seed in seeds:
            repo = scratch(root, f"noise{len(flags)}-{seed}", 0.05, 0.3)
            loop(repo, 0.0, experiments, flags, mode="noise", seed=seed, noise_flags=())
            recorded = rows(repo)[1:]
            kept += sum(r["status"] == "keep" for r in recorded)
            total += len(recorded)
        print(f"  {name:12s} {kept}/{total} kept = {kept / max(total, 1):.1%}")


def start_ray(root: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    ray = shutil.which("ray", path=os.path.dirname(sys.executable))
    if ray is None:
        print("ray: not installed (pip install 'autoresearch[ray]'); skipped")
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    head = subprocess.Popen(
        [
            ray,
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=8",
            "--num-gpus=8",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={root / 'ray'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(3)
            return head, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.5)
    head.terminate()
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter experiments")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray figure")
    args = parser.parse_args()
    quick = args.quick
    with tempfile.TemporaryDirectory(prefix="autoresearch-scale-") as folder:
        root = Path(folder)
        duty_cycle(root, 1.0 if quick else 2.0, 4 if quick else 8)
        started = None if args.no_ray else start_ray(root)
        try:
            throughput(
                root,
                2.0 if quick else 4.0,
                3 if quick else 5,
                (1, 2, 4, 8),
                started[1] if started else None,
            )
        finally:
            if started:
                started[0].terminate()
                started[0].wait(timeout=60)
        seeds = (1, 2) if quick else (1, 2, 3, 4, 5)
        experiments_to_optimum(root, seeds, 40 if quick else 60)
        false_keeps(root, seeds, 12 if quick else 20)


if __name__ == "__main__":
    main()
