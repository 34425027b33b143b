"""Runs in the repository itself, where the agent edits: what `try` has always done."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import NamedTuple

from autoresearch.store import runner, untracked
from autoresearch.store.converted import drifted, start_index
from autoresearch.store.executors.base import UNWATCHED, Ran, RunRequest, Watch, with_devices


class Unseen(NamedTuple):
    """What keeps from a run in place the untracked files made or changed between runs, and
    text conversions' bytes (see ``store.untracked``): where that is remembered, where the
    stand-ins go, and the tool's own files, never hidden."""

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
        seen = untracked.last_run(unseen.state)
        hidden: tuple[str, ...] = ()
        converted: dict[str, bytes] = {}
        sandboxed = request.confine is not None
        if seen is not None:
            # Both listings run side by side: each is a git process over the whole tree.
            with start_index(self.repo) as index, untracked.start_listing(self.repo) as listing:
                converted = drifted(self.repo, seen.boundary, seen.converted, index)
                # Without the sandbox nothing can be hidden, and what you have git ignore (an
                # editor's swap file, a cache) is let through rather than stop every run.
                hidden = untracked.changed_between_runs(
                    self.repo, seen, unseen.exclude, listing, ignored=sandboxed
                )
        refusal = untracked.refusal(self.repo, hidden, converted, sandboxed)
        if refusal:
            return Ran(None, 0.0, failure=refusal)
        files = [path for path in hidden if not path.endswith("/")]
        shown = {**dict.fromkeys(files, b""), **converted}
        folders = tuple(os.path.join(self.repo, p) for p in hidden if p.endswith("/"))
        with _shown_to_run(self.repo, unseen, request, shown, folders) as (confined, made):
            untracked.run_begins(unseen.state, hidden, converted)
            ran = run_in(self.repo, confined, watch)
            # What the run wrote over a stand-in is its own now, as in place.
            written = {os.path.relpath(p, self.repo) for p in untracked.write_back(made)}
            still_hidden = [path for path in hidden if path not in written]
            untracked.run_ended(unseen.state, still_hidden, set(converted) - written)
        return ran._replace(hidden=hidden, converted=tuple(sorted(converted)))

    def close(self) -> None:
        pass


@contextlib.contextmanager
def _shown_to_run(
    repo: str,
    unseen: Unseen,
    request: RunRequest,
    contents: dict[str, bytes],
    folders: tuple[str, ...],
) -> Iterator[tuple[RunRequest, list[untracked.StandIn]]]:
    """The request, its sandbox showing the run ``contents`` in place of those files, and
    ``folders`` empty; and the stand-ins made for it."""
    if not (contents or folders) or request.confine is None:
        yield request, []
        return
    with untracked.stand_ins(repo, unseen.stand_ins, contents) as made:
        mounts = tuple((stand_in.file, stand_in.covers) for stand_in in made)
        policy = request.confine._replace(stand_ins=mounts, emptied=folders)
        yield request._replace(confine=policy), made


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
