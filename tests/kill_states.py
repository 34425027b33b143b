"""What a kill of the tool leaves at a chosen moment of its bookkeeping, made with the engine's
own steps (the moments a real kill hits only by chance)."""

from __future__ import annotations

import os
from pathlib import Path

from autoresearch.engine import record
from autoresearch.engine.measure import Measurement
from autoresearch.engine.session import Session
from autoresearch.engine.step import Attempt, Planned, begin, row_cells
from autoresearch.rules.verdict import KEEP, Verdict
from autoresearch.store.journal import Written
from autoresearch.store.ledger import render_row


def killed_after_the_entry(repo: Path, commit: str, base: str, worker: str | None = None) -> None:
    """Experiment ``commit`` (built on ``base``) begun, judged a keep at 0.9 and recorded, its
    row not yet in the ledger nor the keep ref moved: a kill right after the record's entry."""
    session = Session.open(str(repo))
    session.read_record()
    number = session.read_ledger().data_lines
    if worker is not None:
        os.makedirs(session.files.inflight_dir, exist_ok=True)
    begun = begin(session, number, Planned(commit, base, Attempt("better")), None, worker)
    metrics = dict.fromkeys(session.patterns, 0.9)
    measured = Measurement(Verdict(KEEP, "better"), (0.9,), metrics)
    row = render_row(session.files.ledger, row_cells(session, begun, measured))
    written = Written((row,), {(number, commit): (0.9,)}, rows_on_disk=False)
    entry = record.start_experiment(session, record.Outcome(number, KEEP, commit, written))
    assert entry is not None
    session.finish_record(entry)
