"""The executor interface: what a run needs, what comes back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

from autoresearch.store.sandbox import Policy

# Set for a run pinned to devices; without devices the user's own value is left alone.
DEVICES_VARIABLE = "CUDA_VISIBLE_DEVICES"


class RunRequest(NamedTuple):
    """One run: the commit to run, the command, where its log goes, and its limits."""

    commit: str
    command: str
    log_path: str  # the run's output ends up here, wherever it ran
    env: Mapping[str, str]
    kill_after: float | None = None
    devices: tuple[str, ...] = ()
    run_id: str | None = None  # recorded by the caller, for a kill of the tool
    confine: Policy | None = None  # the sandbox it runs in, its checkout set where it runs


class Ran(NamedTuple):
    """How a run ended. ``lost``: the place it ran went away (a Ray node died)."""

    exit_code: int | None
    seconds: float
    timed_out: bool = False
    interrupted: bool = False
    lost: bool = False
    late: bool = False  # something it left behind wrote to its log after it ended
    failure: str = ""  # why the place it went could not run it (a Ray task's error), in words
    hidden: tuple[str, ...] = ()  # untracked files it was not shown (a run in place)
    converted: tuple[str, ...] = ()  # tracked files it was shown as their checkout has them


class Watch(NamedTuple):
    """Who wants to know how a run goes: its process group once it starts, its elapsed time."""

    on_start: Callable[[int], None] | None = None
    on_tick: Callable[[float], None] | None = None


UNWATCHED = Watch()


class Executor(Protocol):
    """Runs one command at a time for its caller; several may be used side by side."""

    name: str

    @property
    def workdir(self) -> str:
        """Where the run reads its files (checked for protected files around each run)."""
        ...

    def run(self, request: RunRequest, watch: Watch = UNWATCHED) -> Ran:
        """Run the command to its end or its limit; nothing it started outlives this call."""
        ...

    def close(self) -> None:
        """Remove whatever the executor set up (a checkout, a connection)."""
        ...


def with_devices(env: Mapping[str, str], devices: tuple[str, ...]) -> dict[str, str]:
    """The environment of a run pinned to ``devices`` (unchanged when none are given)."""
    if not devices:
        return dict(env)
    return {**env, DEVICES_VARIABLE: ",".join(devices)}
