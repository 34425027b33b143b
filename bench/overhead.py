"""What one experiment costs beyond its run, next to the bare git floor, measured side by side.

In a repository of 1,000 files with a run command that does next to nothing, this times:

- the git floor: edit a file, add, commit, update a ref, reset hard (the least any tool
  that keeps experiments in git must do);
- the engine's overhead per experiment, called in-process (wall time minus the run itself);
- one ``autoresearch try`` from the shell, minus the run itself;
- the same git calls, run and fsyncs from the barest Python script (``bare_try.py``), minus the
  run: what any Python tool doing this would pay, so that the rest of ``try`` is the tool's own;
- for scale, the start of a bare Python (``python -c pass``);
- what confining a run costs: the run command started by the runner in the sandbox
  (bubblewrap), and outside it under the reaper, each minus the same command started bare.

Each round does one of each, in four copies of the repository, so that all of them see the same
moments of a shared, noisy machine; medians are printed with the 10th-90th percentile range.

Usage: python bench/overhead.py [--experiments N]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch_repo import (
    EDITED,
    RUN,
    USER_ENV,
    edit,
    git,
    make_repo,
    median_and_spread,
    start_cli_session,
    time_cli_try,
)

from autoresearch.engine.confine import run_policy
from autoresearch.engine.session import Session
from autoresearch.engine.step import Attempt, try_candidate
from autoresearch.rules.settings import validate
from autoresearch.store import runner, sandbox


class GitFloor:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.base = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()

    def step(self, step: int) -> float:
        started = time.perf_counter()
        edit(self.repo, step)
        git(self.repo, "add", EDITED)
        git(self.repo, "commit", "-qm", f"floor {step}")
        git(self.repo, "update-ref", f"refs/floor/{step}", "HEAD")
        git(self.repo, "reset", "-q", "--hard", self.base)
        return time.perf_counter() - started


class Engine:
    def __init__(self, repo: Path, stack: contextlib.ExitStack) -> None:
        settings = validate({"tag": "engine", "run": RUN, "metric": "score", "scope": [EDITED]})
        self.repo = repo
        self.session = Session.start(repo, settings, None)
        stack.enter_context(self.session.lock())
        try_candidate(self.session, Attempt("baseline"))

    def step(self, step: int) -> float:
        edit(self.repo, step)
        started = time.perf_counter()
        experiment = try_candidate(self.session, Attempt(f"engine {step}"))
        return time.perf_counter() - started - experiment.seconds


def installed_command() -> list[str]:
    """The ``autoresearch`` script pip installed beside this Python, as a user types it."""
    script = Path(sys.executable).parent / "autoresearch"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "autoresearch"]


class Cli:
    def __init__(self, repo: Path, *extra: str) -> None:
        self.repo = repo
        self.command = installed_command()
        start_cli_session(self.command, repo, "cli", extra=extra)

    def step(self, step: int) -> float:
        return time_cli_try(self.command, self.repo, step)


class BareTry:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.command = [sys.executable, str(Path(__file__).with_name("bare_try.py")), RUN]
        git(repo, "update-ref", "refs/bare/keep", "HEAD")

    def step(self, step: int) -> float:
        return time_cli_try(self.command, self.repo, step)


class Confinement:
    """One start of the run command three ways: bare, under the reaper, in the sandbox."""

    def __init__(self, repo: Path) -> None:
        settings = validate({"tag": "sandbox", "run": RUN, "metric": "score"})
        self.repo = repo
        self.policy = run_policy(str(repo), settings, ())
        self.log = repo / "confined.log"

    def bare(self, policy: sandbox.Policy | None = None) -> float:
        """The command by itself, or (``policy``) in bubblewrap's sandbox and nothing else."""
        argv = ["/bin/sh", "-c", RUN]
        if policy is not None:
            argv = sandbox.wrap(policy._replace(checkout=str(self.repo)), argv)
        started = time.perf_counter()
        with open(self.log, "wb") as log:
            subprocess.run(argv, cwd=self.repo, stdout=log, check=True)
        return time.perf_counter() - started

    def confined(self, policy: sandbox.Policy | None) -> float:
        spec = runner.Command(RUN, self.repo, self.log, USER_ENV, confine=policy)
        started = time.perf_counter()
        runner.run_command(spec)
        return time.perf_counter() - started


def python_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=USER_ENV)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=30)
    args = parser.parse_args()
    names = ("floor", "engine", "cli", "cli-off", "bare", "python", "run", "bwrap", "reaper")
    names += ("sandbox",)
    times: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as root, contextlib.ExitStack() as stack:
        places = ("floor", "engine", "cli", "bare", "cli-off")
        repos = [make_repo(Path(root, name), 999) for name in places]
        floor, engine, cli = GitFloor(repos[0]), Engine(repos[1], stack), Cli(repos[2])
        bare, cli_off = BareTry(repos[3]), Cli(repos[4], "--sandbox", "off")
        confinement = Confinement(repos[0])
        for step in range(args.experiments):
            times["floor"].append(floor.step(step))
            times["engine"].append(engine.step(step))
            times["cli"].append(cli.step(step))
            times["cli-off"].append(cli_off.step(step))
            times["bare"].append(bare.step(step))
            times["python"].append(python_start())
            times["run"].append(confinement.bare())
            times["reaper"].append(confinement.confined(None))
            if confinement.policy is not None:
                times["bwrap"].append(confinement.bare(confinement.policy))
                times["sandbox"].append(confinement.confined(confinement.policy))
    floor_median, floor_text = median_and_spread(times["floor"])
    engine_median, engine_text = median_and_spread(times["engine"])
    cli_median, cli_text = median_and_spread(times["cli"])
    off_median, off_text = median_and_spread(times["cli-off"])
    bare_median, bare_text = median_and_spread(times["bare"])
    python_text = median_and_spread(times["python"])[1]
    print(
        f"repository: 1,000 files; run: {RUN!r}; {args.experiments} rounds; "
        "medians (10th-90th percentile)"
    )
    print(f"command: {' '.join(installed_command())}")
    print(f"git floor (edit, add, commit, update-ref, reset --hard): {floor_text}")
    print(
        f"engine overhead per experiment, in-process:             {engine_text}"
        f"   {engine_median / floor_median:4.2f}x the floor (target <= 3x)"
    )
    print(
        f"`autoresearch try` from the shell, minus the run:       {cli_text}"
        f"   {cli_median / floor_median:4.2f}x the floor (target <= 5x, goal 3x)"
    )
    print(
        f"the same, the session's sandbox off:                   {off_text}"
        f"   {off_median / floor_median:4.2f}x the floor"
    )
    print(
        f"the same git calls, run and fsyncs from a bare script:  {bare_text}"
        f"   so the tool's own share is {(cli_median - bare_median) * 1000:.1f} ms"
    )
    print(f"for scale, a bare Python start (python -c pass):         {python_text}")
    run_median, run_text = median_and_spread(times["run"])
    print(f"the run command started bare (subprocess, sh -c):       {run_text}")
    if times["bwrap"]:
        cost = median_and_spread(times["bwrap"])[0] - run_median
        print(
            f"the sandbox around the run (bubblewrap alone): {cost * 1000:+.1f} ms per run"
            f" (target <= 10 ms), {cost / floor_median:4.2f}x the floor"
        )
    for name, what in (("sandbox", "in the sandbox"), ("reaper", "under the reaper")):
        if not times[name]:
            print(f"the run {what}: not measured ({sandbox.unavailable()})")
            continue
        median = median_and_spread(times[name])[0]
        print(
            f"the run {what}, by the runner, all told: {(median - run_median) * 1000:+.1f} ms"
            f" per run, {(median - run_median) / floor_median:4.2f}x the floor"
        )


if __name__ == "__main__":
    main()
