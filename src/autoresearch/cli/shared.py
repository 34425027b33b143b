"""What several commands do alike: recover the session, run one experiment and print it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from autoresearch.engine import record
from autoresearch.engine.experiment import Experiment, Interrupted
from autoresearch.engine.measure import UNWATCHED, RunOutcome
from autoresearch.engine.recovery import locked
from autoresearch.engine.session import Session
from autoresearch.engine.step import Attempt, try_candidate
from autoresearch.reports.progress import Progress, most_runs
from autoresearch.reports.terminal import report_experiment
from autoresearch.store.executors import Executor


@contextlib.contextmanager
def recovered(session: Session) -> Iterator[Session]:
    """The session locked for this command, with whatever a killed command left undone finished."""
    with locked(session) as messages:
        for message in messages:
            print(f"recovered: {message}", file=sys.stderr)
        yield session


def checked(session: Session) -> Session:
    """For the commands that only read: refused when the files differ from the record."""
    record.check_unlocked(session)
    return session


def run_one(
    session: Session,
    description: str,
    as_json: bool = False,
    first: RunOutcome | None = None,
    executor: Executor | None = None,
) -> Experiment | None:
    """One experiment, printed; None when it was interrupted (printed too). ``first``: a run of
    it made already; ``executor``: where it runs (None: in the repository itself)."""
    progress = Progress.for_terminal()
    watch = UNWATCHED
    if progress is not None:
        settings = session.settings
        log = session.files.run_log
        watch = progress.watch("running", settings.budget, log, most_runs(settings))
    interrupted = False
    with recovered(session):
        try:
            attempt = Attempt(description)
            experiment = try_candidate(session, attempt, watch, first, executor)
        except Interrupted as stopped:
            experiment, interrupted = stopped.experiment, True
        finally:
            if progress is not None:
                progress.close()
    report_experiment(experiment, as_json, tty=False)
    if session.settings.track:
        send_in_background(session, experiment)
    return None if interrupted else experiment


def send_in_background(session: Session, experiment: Experiment) -> None:
    """Queue the experiment for the session's trackers and start a sender that outlives this
    command: `try` returns at once, whatever the trackers do."""
    import subprocess

    from autoresearch.history.trackers import outbox

    outbox.queue(session.files, experiment.number, {"reason": experiment.reason})
    with open(session.files.tracking_log, "a", encoding="utf-8") as log:
        for name in session.settings.track:
            subprocess.Popen(
                [sys.executable, "-m", "autoresearch", "-C", session.repo, "export", name]
                + ["--tag", session.tag],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )


def in_directory(directory: str, name: str) -> str:
    """A path as the user meant it: relative to the folder given with -C."""
    return os.path.join(directory, name)
