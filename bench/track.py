"""What tracking costs `try`, and what sending one experiment costs in the background.

Two copies of a repository of 200 files, one session each: one plain, one with
``--track mlflow`` (a local SQLite store under the temp folder). Each round runs one ``try`` in
each, side by side, so that both see the same moments of a shared machine; `try` with tracking
queues the experiment and starts a sender, and returns without waiting for it. Then it times one
``autoresearch export mlflow`` that finds everything there already (the sender's fixed cost:
importing MLflow and asking the store), and one that sends a single new experiment.

Usage: python bench/track.py [--experiments N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch_repo import EDITED, RUN, USER_ENV, make_repo, median_and_spread, time_cli_try

CLI = [sys.executable, "-m", "autoresearch"]


def init(repo: Path, tag: str, env: dict[str, str], *extra: str) -> None:
    command = ["init", "--tag", tag, "--run", RUN, "--metric", "score", "--scope", EDITED, *extra]
    subprocess.run([*CLI, *command], cwd=repo, check=True, capture_output=True, env=env)


def export_seconds(repo: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*CLI, "export", "mlflow"], cwd=repo, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        env = {**USER_ENV, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
        plain = make_repo(root / "plain", 200)
        tracked = make_repo(root / "tracked", 200)
        init(plain, "plain", env)
        init(tracked, "tracked", env, "--track", "mlflow")
        without, with_tracking = [], []
        for step in range(1, args.experiments + 1):
            without.append(time_cli_try(CLI, plain, step, env))
            with_tracking.append(time_cli_try(CLI, tracked, step, env))
        export_seconds(tracked, env)  # waits for the last sender: everything is there
        nothing_new = [export_seconds(tracked, env) for _ in range(3)]
        export_seconds(plain, env)  # the plain session's experiments so far, all at once
        one_new = []
        for step in range(3):
            time_cli_try(CLI, plain, 1000 + step, env)
            one_new.append(export_seconds(plain, env))
        print(f"try, no tracking    {median_and_spread(without)[1]}")
        print(f"try, --track mlflow {median_and_spread(with_tracking)[1]}")
        print(f"export, nothing new {sorted(nothing_new)[1]:.2f} s (median of 3)")
        print(f"export, one new     {sorted(one_new)[1]:.2f} s (median of 3)")
        print(f"(cpu count {os.cpu_count()}; other load shows in the spreads)")


if __name__ == "__main__":
    main()
