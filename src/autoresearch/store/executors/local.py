"""Runs in the repository itself, where the agent edits: what `try` has always done."""

from __future__ import annotations

from autoresearch.store import runner
from autoresearch.store.executors.base import UNWATCHED, Ran, RunRequest, Watch, with_devices


class LocalExecutor:
    name = "local"

    def __init__(self, repo: str, devices: tuple[str, ...] = ()) -> None:
        self.repo = repo
        self.devices = devices  # for every run that names none of its own

    @property
    def workdir(self) -> str:
        return self.repo

    def run(self, request: RunRequest, watch: Watch = UNWATCHED) -> Ran:
        return run_in(self.repo, request._replace(devices=request.devices or self.devices), watch)

    def close(self) -> None:
        pass


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
