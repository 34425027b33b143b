"""`autoresearch import PATH`: a new session whose history is an existing ledger."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from autoresearch.cli.flags import Commands, setting_flags
from autoresearch.cli.ledger_args import read_ledger_file
from autoresearch.cli.shared import in_directory
from autoresearch.errors import ExitStatus


def add_parser(commands: Commands) -> None:
    adopt = commands.add_parser(
        "import", help="start a session whose history is an existing ledger (Karpathy's too)"
    )
    adopt.add_argument("path", help="the ledger to adopt")
    setting_flags(adopt, "import")  # an import never runs the baseline


def run(args: argparse.Namespace) -> int:
    from autoresearch.history.import_ledger import adopt
    from autoresearch.rules.formatting import number
    from autoresearch.rules.settings_table import flag_values
    from autoresearch.store import git
    from autoresearch.store.settings_file import read_settings_file

    repo = git.toplevel(args.directory)
    file_values, settings_file = read_settings_file(repo)
    source = Path(in_directory(args.directory, args.path))
    adoption = adopt(
        repo, source, read_ledger_file(str(source)), flag_values(args), file_values, settings_file
    )
    session, settings = adoption.session, adoption.session.settings
    guessed = ", guessed from the kept rows" if adoption.direction_guessed else ""
    print(
        f"session {settings.tag} on branch autoresearch/{settings.tag} · {settings.metric} "
        f"({settings.direction}{guessed}) · imported {adoption.rows} rows from "
        f"{adoption.source.name} (a copy: {os.path.relpath(adoption.copy, repo)})"
    )
    if adoption.dropped:
        print(
            f"columns not imported: {', '.join(adoption.dropped)} (this session does not record "
            "them; --also NAME records a metric the run prints)"
        )
    for problem in adoption.skipped:
        print(f"row not imported: {problem}")
    best = session.best_value(session.read_ledger(), session.keep_ref())
    if not settings.run:
        print(
            "no run command: status, plot and report show the history; "
            "`autoresearch config run CMD` before the next `autoresearch try`"
        )
    elif best is not None:
        print(f"the next `autoresearch try` is compared against {settings.metric} {number(best)}")
    else:
        print(
            "the imported ledger has no keep: measure HEAD first with `autoresearch try -m "
            '"baseline"` (no change needed); later experiments compare against it'
        )
    return ExitStatus.OK
