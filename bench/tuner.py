"""The built-in tuner against random search on the demo task, at equal numbers of experiments.

Each session starts from a fresh demo project with its baseline in the ledger, then proposes
``--experiments`` candidates. The tuner writes its values into train.py through the real
TuneAgent; random search draws each knob uniformly (log-uniformly where the knob is on a log
scale) from the same ranges and rounds it the same way. Runs call train.py's ``train`` in
process, with the same training seed for every run, so both methods face the same function.
A candidate that is not better is undone, as the engine does, before the next one.

    python bench/tuner.py            # 5 seeds x 30 experiments, about 3 minutes on 2 cores
    python bench/tuner.py --quick    # 3 seeds x 15 experiments
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from autoresearch.loop.agents.base import AgentOptions, AgentRequest, AgentSetup, Outcome
from autoresearch.loop.agents.knobs import Knob, Value, parse_knobs, read_values, rewrite
from autoresearch.loop.demo import create_demo_project
from autoresearch.rules.settings import build_settings
from autoresearch.store.ledger import append_row, create_ledger
from autoresearch.store.settings_file import read_settings_file

TRAINING_SEED = 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds x 15 experiments")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--experiments", type=int, default=None)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    # Before numpy is first imported (by the workers): one thread per run, as train.py asks.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    seeds = args.seeds or (3 if args.quick else 5)
    experiments = args.experiments or (15 if args.quick else 30)
    jobs = [(method, seed, experiments) for seed in range(seeds) for method in METHODS]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(run_session, jobs))
    best: dict[str, list[float]] = {method: [] for method in METHODS}
    for (method, _, _), (_, value, _) in zip(jobs, results, strict=True):
        best[method].append(value)
    baseline = results[0][0]
    seconds = statistics.mean(per_run for _, _, per_run in results)
    print(f"demo task, {experiments} experiments after the baseline, {seeds} seeds")
    print(f"baseline val_loss          {baseline:.4f}   ({seconds:.2f} s per run on average)")
    for method, values in best.items():
        listed = " ".join(f"{value:.4f}" for value in values)
        print(f"{method:>6}: median best {statistics.median(values):.4f}   [{listed}]")
    ratio = statistics.median(best["tune"]) / statistics.median(best["random"])
    print(f"tune / random (median best val_loss): {ratio:.3f}")
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


@dataclass(frozen=True)
class Task:
    """A fresh demo project and what both methods need to know about it."""

    repo: Path
    ledger: Path
    declared: tuple[dict[str, object], ...]
    knobs: list[Knob]


def run_session(job: tuple[str, int, int]) -> tuple[float, float, float]:
    """One session: returns the baseline, the best value found and seconds per run."""
    method, seed, experiments = job
    with tempfile.TemporaryDirectory() as scratch:
        repo = create_demo_project(Path(scratch) / "demo")
        file_values, _ = read_settings_file(repo)
        declared = build_settings(file_values, {}).knobs
        task = Task(repo, Path(scratch) / "results.tsv", declared, parse_knobs(declared, repo))
        trainer = load_trainer(repo / "train.py")
        baseline = measure(trainer, read_values(task.knobs, repo))
        create_ledger(task.ledger, ["commit", "val_loss", "status", "description"])
        append_row(task.ledger, {"commit": "baseline", "val_loss": baseline, "status": "keep"})
        propose = PROPOSERS[method](task, seed)
        best, seconds = baseline, []
        for number in range(experiments):
            kept_source = (repo / "train.py").read_bytes()
            observe = propose()
            started = time.perf_counter()
            value = measure(trainer, read_values(task.knobs, repo))
            seconds.append(time.perf_counter() - started)
            if math.isfinite(value) and value < best:
                best, status = value, "keep"
            else:
                (repo / "train.py").write_bytes(kept_source)
                status = "discard" if math.isfinite(value) else "crash"
            observe(f"c{number:04d}", status, value if math.isfinite(value) else None)
        return baseline, best, statistics.mean(seconds)


Observe = Callable[[str, str, "float | None"], None]


def tuner(task: Task, seed: int) -> Callable[[], Observe]:
    # Imported here, as optuna brings numpy, whose thread count is fixed when it loads.
    from autoresearch.loop.agents.tune import TuneAgent

    setup = AgentSetup(
        options=AgentOptions(),
        repo=task.repo,
        state_dir=task.repo.parent / "state",
        ledger_path=task.ledger,
        metric="val_loss",
        direction="minimize",
        knobs=task.declared,
        seed=seed,
    )
    agent = TuneAgent(setup)
    request = AgentRequest(
        prompt="",
        prompt_path=task.repo.parent / "prompt.md",
        workdir=task.repo,
        scope_files=("train.py",),
    )

    def propose() -> Observe:
        proposal = agent.propose(request)

        def observe(commit: str, status: str, value: float | None) -> None:
            agent.observe(Outcome(commit, status, value, proposal.description))

        return observe

    return propose


def random_search(task: Task, seed: int) -> Callable[[], Observe]:
    rng = random.Random(seed)

    def propose() -> Observe:
        rewrite(task.knobs, task.repo, {knob.name: draw(knob, rng) for knob in task.knobs})
        return lambda commit, status, value: None

    return propose


def draw(knob: Knob, rng: random.Random) -> Value:
    if knob.kind == "choice":
        return rng.choice(knob.choices)
    assert knob.low is not None and knob.high is not None
    if knob.log:
        value = math.exp(rng.uniform(math.log(knob.low), math.log(knob.high)))
    else:
        value = rng.uniform(knob.low, knob.high)
    return knob.snap(value)


METHODS = ("tune", "random")
PROPOSERS = {"tune": tuner, "random": random_search}


def load_trainer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_train", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def measure(trainer: ModuleType, values: Mapping[str, Value]) -> float:
    import numpy

    with numpy.errstate(all="ignore"):
        result = trainer.train(
            **{name.lower(): value for name, value in values.items()}, seed=TRAINING_SEED
        )
    return result.val_loss if math.isfinite(result.val_loss) else math.nan


if __name__ == "__main__":
    sys.exit(main())
