"""How many experiments run at once, on which devices, and where: the worker flags checked
(bad input changes nothing) and turned into one executor per worker."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.rules.settings import Settings
from autoresearch.rules.settings_table import default
from autoresearch.store.executors import Executor
from autoresearch.store.executors.worktree import WorktreeExecutor, check_links


class WorkerPlan(NamedTuple):
    """One device set per worker (empty when nothing is pinned)."""

    device_sets: tuple[tuple[str, ...], ...]
    pipeline: bool = False
    executor: str = default("executor")
    ray_address: str | None = None
    links: tuple[str, ...] = ()
    in_place: bool = False
    gpus_per_run: int = 0  # what a Ray task asks for

    @property
    def workers(self) -> int:
        return len(self.device_sets)

    @property
    def parallel(self) -> bool:
        return self.workers > 1 or self.pipeline


def plan_workers(repo: str, options: Mapping[str, Any]) -> WorkerPlan:
    """The worker settings, read already by the table of settings (``options``), checked
    against each other; a UserError names the first bad one."""
    workers: int | None = options.get("workers")
    per_run: int | None = options.get("gpus_per_run")
    executor = str(options.get("executor") or default("executor"))
    if options.get("ray_address") and executor != "ray":
        raise UserError("--ray-address needs --executor ray")
    links = check_links(repo, list(options.get("link") or ()))
    in_place = bool(options.get("in_place"))
    pipeline = bool(options.get("pipeline"))
    gpus: tuple[str, ...] = options.get("gpus") or ()
    if gpus and executor == "ray":
        raise UserError("--gpus is for the local executor: Ray gives each run --gpus-per-run GPUs")
    if gpus:
        per_run = per_run or 1
        if per_run > len(gpus):
            raise UserError(f"--gpus-per-run {per_run} is more than the {len(gpus)} GPUs of --gpus")
        fits = len(gpus) // per_run
        workers = workers or fits
        if workers > fits:
            raise UserError(
                f"--workers {workers} needs {workers * per_run} GPUs at {per_run} per run; "
                f"--gpus gives {len(gpus)}"
            )
        sets = tuple(gpus[i * per_run : (i + 1) * per_run] for i in range(workers))
    else:
        if per_run is not None and executor == "local":
            raise UserError("--gpus-per-run needs --gpus (the devices to share out)")
        sets = ((),) * (workers or 1)
    if executor == "ray":
        from autoresearch.store.executors.ray_executor import check

        check(options.get("ray_address"))
    if in_place and (len(sets) > 1 or pipeline or executor != "local"):
        raise UserError("--in-place runs one experiment at a time, here: drop --workers/--pipeline")
    if in_place and links:
        raise UserError("--link is for runs in a clean checkout; --in-place runs in this tree")
    return WorkerPlan(
        sets,
        pipeline,
        executor,
        options.get("ray_address"),
        links,
        in_place,
        per_run or 0,
    )


def worktree_place(session: Session, index: int) -> str:
    return os.path.join(session.files.worktrees, f"run-{index}")


def worktree_runs(session: Session, links: tuple[str, ...] | list[str] = ()) -> WorktreeExecutor:
    """Runs in a clean checkout of each commit, as `loop` does (`try --in-worktree`)."""
    return WorktreeExecutor(
        session.repo, worktree_place(session, 0), check_links(session.repo, list(links))
    )


@contextlib.contextmanager
def started_workers(session: Session, plan: WorkerPlan) -> Iterator[list[Executor]]:
    """One executor per worker, each closed when the block ends, however it ends."""
    executors = build_executors(session, plan)
    try:
        yield executors
    finally:
        for executor in executors:
            executor.close()


@contextlib.contextmanager
def first_worker(session: Session, plan: WorkerPlan) -> Iterator[Executor]:
    """The first worker alone (where a new session's baseline runs), closed when the block ends."""
    with started_workers(session, plan._replace(device_sets=plan.device_sets[:1])) as executors:
        yield executors[0]


@contextlib.contextmanager
def check_place(repo: str, plan: WorkerPlan) -> Iterator[Executor | None]:
    """Where a new session's first run is checked: as the loop's runs will run, in a clean
    checkout of its own (None: in the repository, for runs in place)."""
    if plan.in_place:
        yield None
        return
    place = tempfile.mkdtemp(prefix="autoresearch-check-")
    devices = plan.device_sets[0] if plan.device_sets else ()
    checking = WorktreeExecutor(repo, place, plan.links, devices)
    try:
        yield checking
    finally:
        checking.close()


def refuse_evaluation_on_ray(settings: Settings, plan: WorkerPlan) -> None:
    if plan.executor == "ray" and settings.eval:
        # The outputs it reads stay on the node that ran them: not brought back yet.
        raise UserError("--eval runs beside the session, so not with --executor ray yet")


def build_executors(session: Session, plan: WorkerPlan) -> list[Executor]:
    """One executor per worker, each with its own devices; close them all at the end."""
    if plan.executor == "ray":
        refuse_evaluation_on_ray(session.settings, plan)
        from autoresearch.store.executors.ray_executor import connect

        return list(
            connect(session.repo, plan.ray_address, plan.workers, plan.gpus_per_run, plan.links)
        )
    if plan.in_place:
        return [session.in_place(plan.device_sets[0])]
    return [
        WorktreeExecutor(session.repo, worktree_place(session, i), plan.links, devices)
        for i, devices in enumerate(plan.device_sets)
    ]
