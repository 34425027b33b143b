"""`autoresearch skill`: the instructions a coding agent needs to run the loop with `try`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoresearch.cli.flags import Commands
from autoresearch.errors import ExitStatus, UserError
from autoresearch.loop.skill import TARGETS


def add_parser(commands: Commands) -> None:
    skill = commands.add_parser("skill", help="instructions for a coding agent to run the loop")
    skill.add_argument(
        "--install",
        choices=TARGETS,
        help="write them into the repository: .claude/skills/autoresearch/SKILL.md (claude) "
        "or a section of AGENTS.md (codex, agents-md)",
    )


def run(args: argparse.Namespace) -> int:
    from autoresearch.cli.main import build_parser
    from autoresearch.loop.skill import install, skill_text
    from autoresearch.store import git

    text = skill_text(build_parser())
    if args.install is None:
        sys.stdout.write(text)
        return ExitStatus.OK
    try:
        root: Path | None = Path(git.toplevel(args.directory))
    except UserError:
        root = None
    path, done = install(args.install, root or Path(args.directory), text)
    print(f"{done}: {path}")
    if root is not None and git.is_tracked(root, str(path.relative_to(root))):
        print(
            f"{path.name} is tracked by git: commit the change outside any session, or the next "
            "experiment carries it (or is refused for it)"
        )
    return ExitStatus.OK
