"""What several commands do alike: recover the session, run one experiment and print it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from autoresearch.engine.experiment import Experiment, Interrupted
from autoresearch.engine.measure import Watch
from autoresearch.engine.recovery import locked
from autoresearch.engine.session import Session
from autoresearch.engine.step import try_candidate
from autoresearch.reports.terminal import progress_printer, report_experiment
from autoresearch.store.executors import Executor


@contextlib.contextmanager
def recovered(session: Session) -> Iterator[Session]:
    """The session locked for this command, with whatever a killed command left undone finished."""
    with locked(session) as messages:
        for message in messages:
            print(f"recovered: {message}", file=sys.stderr)
        yield session


def run_one(
    session: Session,
    description: str,
    as_json: bool = False,
    executor: Executor | None = None,
) -> Experiment | None:
    """One experiment, printed; None when it was interrupted (printed too)."""
    tick = progress_printer(session.settings.budget)
    with recovered(session):
        try:
            experiment = try_candidate(session, description, Watch(on_tick=tick), executor=executor)
        except Interrupted as interrupted:
            report_experiment(interrupted.experiment, as_json, tick is not None)
            return None
    report_experiment(experiment, as_json, tick is not None)
    return experiment


def in_directory(directory: str, name: str) -> str:
    """A path as the user meant it: relative to the folder given with -C."""
    return os.path.join(directory, name)
