"""`autoresearch demo`: the loop with the built-in tuner on a small numpy project."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from autoresearch.cli.flags import Commands
from autoresearch.cli.loop import find_or_start, run_loop
from autoresearch.errors import ExitStatus
from autoresearch.loop.launch import loop_request


def add_parser(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="run the loop on a built-in numpy project")
    demo.add_argument("dir", nargs="?", help="where to create it (default: a new temp folder)")
    demo.add_argument("--experiments", type=int, help="how many experiments to run")
    demo.add_argument("--seed", type=int, help="seed for the tuner")


def run(args: argparse.Namespace) -> int:
    from autoresearch.loop.demo import RECOMMENDED_EXPERIMENTS, create_demo_project

    experiments = args.experiments or RECOMMENDED_EXPERIMENTS
    if args.dir:
        directory = Path(args.dir).resolve()
    else:
        directory = Path(tempfile.mkdtemp(prefix="autoresearch-demo-")) / "project"
    project = create_demo_project(directory, experiments)
    print(f"demo project: {project} (a numpy model; the tuner edits its knobs in train.py)")
    flags = {"tag": "demo", "agent": "tune", "max_experiments": experiments, "seed": args.seed}
    request = loop_request(str(project), flags)
    session = find_or_start(request)
    if session is None:
        return ExitStatus.FAILED
    code = run_loop(session, request)
    print(f"see it: cd {project} && autoresearch status")
    return code
