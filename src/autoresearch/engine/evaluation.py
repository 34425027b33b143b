"""The trusted evaluation (``--eval CMD``): after a run, score what it produced from a folder of
its own, in a sandbox of its own.

The folder holds the protected files as they were at the session's start and the run's declared
outputs (``--artifact PATH``), read-only, and nothing else of the candidate: no file the run
wrote next to the evaluation can shadow what it imports. The metrics are read from the
evaluation's output only; nothing the run printed can set them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from autoresearch.rules.settings import Settings
from autoresearch.store import sandbox
from autoresearch.store.executors import LocalExecutor, Ran, RunRequest
from autoresearch.store.files import SessionFiles


class EvaluationJob(NamedTuple):
    """What evaluating one run needs: where the session keeps the protected files' copies, the
    settings (the command, the outputs, the limit), and where the run ran."""

    repo: str
    files: SessionFiles
    settings: Settings
    protected: Mapping[str, Mapping[str, Any]]
    workdir: str  # where the run left its outputs
    number: int
    commit: str
    devices: tuple[str, ...] = ()
    confine: sandbox.Policy | None = None  # the run's sandbox, from which this one is made


def evaluation_policy(job: EvaluationJob, folder: str) -> sandbox.Policy | None:
    """The evaluation's sandbox: the run's, with the whole project hidden but for its folder."""
    if job.confine is None:
        return None
    return job.confine._replace(
        hide_project=True,
        checkout=folder,
        read_only=(*job.settings.artifact, *sorted(job.protected)),
    )


def lay_out(job: EvaluationJob, folder: str) -> str | None:
    """Fill ``folder`` with the protected files as at the start and the run's outputs from its
    checkout; a crash reason when an output is missing."""
    for relative in job.protected:
        backup = os.path.join(job.files.protected_backup, relative)
        source = backup if os.path.isfile(backup) else os.path.join(job.repo, relative)
        _place(source, os.path.join(folder, relative))
    for relative in job.settings.artifact:
        source = os.path.join(job.workdir, relative)
        if not os.path.lexists(source) or os.path.islink(source):
            return f"the run wrote no {relative} (an --artifact the evaluation reads)"
        _place(source, os.path.join(folder, relative))
    return None


def clear_outputs(job: EvaluationJob) -> None:
    """Remove what an earlier run left at the declared outputs: only this run's count."""
    for relative in job.settings.artifact:
        path = os.path.join(job.workdir, relative)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.unlink(path)


def _place(source: str, target: str) -> None:
    """A copy of ``source`` at ``target``: hard links where the file system allows (a model
    of gigabytes costs nothing), else a copy."""
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, target)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


@contextlib.contextmanager
def evaluation_folder(job: EvaluationJob) -> Iterator[str]:
    """A fresh folder under the session's state (absent from every run's sandbox), removed
    after."""
    import tempfile  # only a session with --eval gets here: every `try` would pay ~1.3 ms

    os.makedirs(job.files.dir, exist_ok=True)
    folder = tempfile.mkdtemp(prefix=f"eval-{job.number:04d}-", dir=job.files.dir)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def evaluate(
    job: EvaluationJob, command: str, log_path: str, env: Mapping[str, str]
) -> tuple[Ran | None, str | None]:
    """Run the trusted ``command`` on what the run left in its checkout; how it ran, or why it
    could not (the log at ``log_path`` holds its output)."""
    with evaluation_folder(job) as folder:
        missing = lay_out(job, folder)
        if missing is not None:
            return None, missing
        request = RunRequest(
            job.commit,
            command,
            log_path,
            env,
            job.settings.kill_after,
            job.devices,
            confine=evaluation_policy(job, folder),
        )
        return LocalExecutor(folder).run(request), None
