"""What the session's record costs per experiment, next to the git floor, measured side by side.

In a session whose ledger already holds a night of experiments (``--rows``, default 2,000, with
as many runs), each round appends one experiment's row and run and times:

- the record's entry for it (``commit-tree`` and ``update-ref``, as ``try`` writes it);
- the check every command makes before it acts (one ``cat-file`` and the files' hashes);
- the git floor: a bare ``git update-ref`` and a bare ``git commit --allow-empty``, the least a
  tool that keeps anything in git pays per experiment.

Medians are printed with the 10th-90th percentile range, and the ratios to the floor.

Usage: python bench/journal.py [--experiments N] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from scratch_repo import EDITED, RUN, git, make_repo, median_and_spread

from autoresearch.engine import record
from autoresearch.engine.session import Session
from autoresearch.rules.settings import validate
from autoresearch.store import journal
from autoresearch.store.files import append_lines


def grow(session: Session, rows: int) -> None:
    """A night's worth of rows and runs, recorded as one entry."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    lines = [
        f"{commit[:7]}\t{1 - i / 1e5:.6f}\t1\t\t300.0\t\t\t\tdiscard\tidea {i}" for i in range(rows)
    ]
    append_lines(session.files.ledger, lines)
    append_lines(
        session.files.runs_jsonl,
        [
            json.dumps({"experiment": i, "commit": commit, "run": 0, "value": 1.0})
            for i in range(rows)
        ],
    )
    runs = {(i, commit): (1.0,) for i in range(rows)}
    session.write_record({"kind": "import"}, written=journal.Written(tuple(lines), runs))


def one_experiment(session: Session, number: int, keep: str) -> record.Outcome:
    """An experiment's run and row, appended as ``try`` appends them; what it wrote."""
    commit = git_out(session.repo, "rev-parse", "HEAD")
    append_lines(
        session.files.runs_jsonl,
        [json.dumps({"experiment": number, "commit": commit, "run": 0, "value": 0.5})],
    )
    row = f"{commit[:7]}\t0.5\t1\t\t0.1\t\t\t\tdiscard\tround"
    append_lines(session.files.ledger, [row])
    written = journal.Written((row,), {(number, commit): (0.5,)})
    return record.Outcome(number, "discard", keep, written)


def git_out(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        repo = make_repo(Path(folder), 100)
        settings = validate({"tag": "bench", "run": RUN, "metric": "score", "scope": [EDITED]})
        session = Session.start(str(repo), settings, None)
        grow(session, args.rows)
        keep = session.keep_ref()
        entry_times, check_times, ref_times, commit_times = [], [], [], []
        for number in range(args.rows, args.rows + args.experiments):
            outcome = one_experiment(session, number, keep)
            started = time.perf_counter()
            record.note_experiment(session, outcome)
            entry_times.append(time.perf_counter() - started)

            started = time.perf_counter()
            record.check(session)
            check_times.append(time.perf_counter() - started)

            started = time.perf_counter()
            git(repo, "update-ref", f"refs/floor/{number}", "HEAD")
            ref_times.append(time.perf_counter() - started)

            started = time.perf_counter()
            git(repo, "commit", "-q", "--allow-empty", "-m", f"floor {number}")
            commit_times.append(time.perf_counter() - started)
            git(repo, "reset", "-q", "--soft", "HEAD~1")
    entry, entry_text = median_and_spread(entry_times)
    check, check_text = median_and_spread(check_times)
    ref, ref_text = median_and_spread(ref_times)
    commit, commit_text = median_and_spread(commit_times)
    print(f"{args.experiments} experiments on a ledger of {args.rows} rows and runs")
    print(f"record entry per experiment   {entry_text}   {entry / ref:.2f}x update-ref")
    print(f"check before a command        {check_text}   {check / ref:.2f}x update-ref")
    print(f"git update-ref (floor)        {ref_text}")
    print(f"git commit --allow-empty      {commit_text}   entry = {entry / commit:.2f}x commit")


if __name__ == "__main__":
    main()
