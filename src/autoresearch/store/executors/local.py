"""Runs in the repository itself, where the agent edits: what `try` has always done."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

from autoresearch.store import runner, untracked
from autoresearch.store.executors.base import UNWATCHED, Ran, RunRequest, Watch, with_devices


class Unseen(NamedTuple):
    """What keeps the untracked files made or changed between runs from a run in place (see
    ``store.untracked``): where that is remembered, where the stand-ins go, and the tool's own
    files, never hidden."""

    state: str
    stand_ins: str
    exclude: tuple[str, ...]


class LocalExecutor:
    name = "local"

    def __init__(
        self, repo: str, devices: tuple[str, ...] = (), unseen: Unseen | None = None
    ) -> None:
        self.repo = repo
        self.devices = devices  # for every run that names none of its own
        self.unseen = unseen

    @property
    def workdir(self) -> str:
        return self.repo

    def run(self, request: RunRequest, watch: Watch = UNWATCHED) -> Ran:
        request = request._replace(devices=request.devices or self.devices)
        if self.unseen is None:
            return run_in(self.repo, request, watch)
        unseen = self.unseen
        found = untracked.changed_between_runs(self.repo, unseen.state, unseen.exclude)
        hidden = untracked.check(self.repo, found, request.confine is not None)
        if hidden.refusal:
            return Ran(None, 0.0, failure=hidden.refusal)
        with _hidden_from(self.repo, unseen, request, hidden.paths) as confined:
            untracked.run_begins(unseen.state, hidden.paths)
            ran = run_in(self.repo, confined, watch)
            untracked.run_ended(unseen.state, hidden.paths)
        return ran._replace(hidden=hidden.paths)

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _hidden_from(
    repo: str, unseen: Unseen, request: RunRequest, paths: tuple[str, ...]
) -> Iterator[RunRequest]:
    if not paths or request.confine is None:
        yield request
        return
    with untracked.stand_ins(repo, unseen.stand_ins, paths) as made:
        yield request._replace(confine=request.confine._replace(stand_ins=made))


def run_in(directory: str, request: RunRequest, watch: Watch = UNWATCHED) -> Ran:
    """The runner's bounded run of ``request`` in ``directory``."""
    spec = runner.Command(
        request.command,
        directory,
        request.log_path,
        with_devices(request.env, request.devices),
        request.kill_after,
        request.run_id,
        confine=request.confine,
    )
    result = runner.run_command(spec, watch.on_start, watch.on_tick)
    return Ran(
        result.exit_code, result.seconds, result.timed_out, result.interrupted, late=result.late
    )
