"""How many experiments run at once, on which devices, and where: the worker flags checked
(bad input changes nothing) and turned into one executor per worker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.store.executors import Executor, LocalExecutor
from autoresearch.store.executors.worktree import WorktreeExecutor, check_links

EXECUTORS = ("local", "ray")


class WorkerPlan(NamedTuple):
    """One device set per worker (empty when nothing is pinned)."""

    device_sets: tuple[tuple[str, ...], ...]
    pipeline: bool = False
    executor: str = "local"
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


def _count(options: Mapping[str, Any], key: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    flag = "--" + key.replace("_", "-")
    try:
        number = int(str(value))
    except ValueError:
        raise UserError(f"{flag} must be a whole number, not {value!r}") from None
    if number < 1:
        raise UserError(f"{flag} must be at least 1, not {value!r}")
    return number


def parse_gpus(text: str) -> tuple[str, ...]:
    gpus = tuple(part.strip() for part in text.split(","))
    if not all(gpus):
        raise UserError(f"--gpus {text!r}: list device numbers separated by commas, as 0,1,2")
    for gpu in gpus:
        if gpus.count(gpu) > 1:
            raise UserError(f"--gpus lists GPU {gpu} twice: two runs must never share a device")
    return gpus


def plan_workers(repo: str, options: Mapping[str, Any]) -> WorkerPlan:
    """The worker flags, checked; a UserError names the first bad one."""
    workers = _count(options, "workers")
    per_run = _count(options, "gpus_per_run")
    executor = str(options.get("executor") or "local")
    if executor not in EXECUTORS:
        raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    if options.get("ray_address") and executor != "ray":
        raise UserError("--ray-address needs --executor ray")
    links = check_links(repo, list(options.get("link") or ()))
    in_place = bool(options.get("in_place"))
    pipeline = bool(options.get("pipeline"))
    listed = options.get("gpus")
    if isinstance(listed, list | tuple):  # from a settings file: gpus = [0, 1]
        listed = ",".join(str(gpu) for gpu in listed)
    gpus = parse_gpus(str(listed)) if listed else ()
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


def build_executors(session: Session, plan: WorkerPlan) -> list[Executor]:
    """One executor per worker, each with its own devices; close them all at the end."""
    if plan.executor == "ray":
        from autoresearch.store.executors.ray_executor import connect

        return list(
            connect(session.repo, plan.ray_address, plan.workers, plan.gpus_per_run, plan.links)
        )
    if plan.in_place:
        return [LocalExecutor(session.repo, plan.device_sets[0])]
    return [
        WorktreeExecutor(session.repo, worktree_place(session, i), plan.links, devices)
        for i, devices in enumerate(plan.device_sets)
    ]
