"""Weights & Biases: a session is a W&B group named after its tag, each experiment one run.

Runs go to ``WANDB_PROJECT`` (default ``autoresearch``) of ``WANDB_ENTITY``. Without an API key
(``WANDB_API_KEY`` or ``wandb login``) they are written offline under ``WANDB_DIR`` (default
``.autoresearch/``), for ``wandb sync`` later. Each run's id is derived from the session and the
experiment number, so a run is never made twice.
"""

from __future__ import annotations

import glob
import json
import netrc
import os
import shutil
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from autoresearch.history.trackers.tracked import Tracked

DEFAULT_PROJECT = "autoresearch"


def open_tracker(state_dir: str) -> WandbTracker:
    import wandb  # noqa: F401 - refuse now, with the install hint, when it is missing

    return WandbTracker(os.environ.get("WANDB_DIR") or state_dir)


def has_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        return bool(host and netrc.netrc().authenticators(host))
    except (OSError, netrc.NetrcParseError):
        return False


class WandbTracker:
    name = "wandb"

    def __init__(self, directory: str) -> None:
        self.dir = os.path.abspath(directory)
        mode = os.environ.get("WANDB_MODE", "").lower()
        self.offline = mode in ("offline", "dryrun") or (mode != "online" and not has_key())
        self.project = os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
        self.entity = os.environ.get("WANDB_ENTITY") or None

    def logged(self, group: str) -> set[str]:
        if self.offline:
            return {key for key, path in offline_runs(self.dir) if finished(path)}
        import wandb

        path = f"{self.entity}/{self.project}" if self.entity else self.project
        runs = wandb.Api().runs(path, filters={"group": group})
        return {run.id for run in runs if run.state in ("finished", "failed", "crashed")}

    def log(self, item: Tracked) -> None:
        import wandb

        for key, path in offline_runs(self.dir):
            if key == item.key:  # a run left half made by an earlier try
                shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        os.makedirs(self.dir, exist_ok=True)
        run = wandb.init(
            project=self.project,
            entity=self.entity,
            group=item.group,
            job_type="experiment",
            name=item.name,
            id=item.key,
            config={**item.params, **item.tags},
            tags=[item.tags["verdict"]],
            dir=self.dir,
            mode="offline" if self.offline else "online",
            resume=None if self.offline else "allow",
            settings=wandb.Settings(console="off", silent=True, save_code=False),
        )
        try:
            run.define_metric("experiment")
            for name in item.metrics:
                if name != "experiment":
                    run.define_metric(name, step_metric="experiment")
            run.log(dict(item.metrics))
            if item.run_values:
                run.summary["run_values"] = list(item.run_values)
            for name, text in _files(item):
                target = os.path.join(run.dir, name)
                with open(target, "w", encoding="utf-8") as handle:
                    handle.write(text)
                run.save(target, base_path=run.dir, policy="now")
        except BaseException:
            run.finish(exit_code=2)
            if self.offline:
                shutil.rmtree(os.path.dirname(run.dir), ignore_errors=True)
            raise
        run.finish(exit_code=1 if item.crashed else 0)


def _files(item: Tracked) -> Iterator[tuple[str, str]]:
    diff = item.diff()
    if diff:
        yield "diff.patch", diff
    if item.log:
        with open(item.log, encoding="utf-8", errors="replace") as handle:
            yield os.path.basename(item.log), handle.read()


# ----- offline runs, read back -----------------------------------------------------------------
# wandb writes an offline run as ``offline-run-<time>-<id>/run-<id>.wandb``: protobuf records
# (wandb's own ``Record`` message) in LevelDB's log framing. Recent wandb reads it only from its
# Go core, so the framing is read here.

_BLOCK = 32768
_HEADER = struct.Struct("<IHB")  # checksum, length, kind
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def offline_runs(directory: str) -> list[tuple[str, str]]:
    """(run id, path of its ``.wandb`` file) for every offline run under ``directory``."""
    found = []
    for path in sorted(glob.glob(os.path.join(directory, "wandb", "offline-run-*", "run-*.wandb"))):
        found.append((os.path.basename(path)[len("run-") : -len(".wandb")], path))
    return found


def records(path: str) -> Iterator[Any]:
    """The run's records, as wandb's protobuf ``Record`` messages."""
    from wandb.proto import wandb_internal_pb2

    for raw in _frames(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        yield record


def finished(path: str) -> bool:
    """Whether the offline run was finished (its last record is the exit), not cut short."""
    try:
        return any(record.WhichOneof("record_type") == "exit" for record in records(path))
    except (OSError, ValueError):
        return False


def read_offline(path: str) -> dict[str, Any]:
    """What an offline run holds: its id, group, name, tags, config, last metrics, exit code."""
    run: dict[str, Any] = {"config": {}, "metrics": {}, "files": [], "exit_code": None}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            r = record.run
            run.update(id=r.run_id, group=r.run_group, name=r.display_name, tags=list(r.tags))
            for item in r.config.update:
                run["config"][item.key] = json.loads(item.value_json)
        elif kind == "history":
            for item in record.history.item:
                key = item.key or ".".join(item.nested_key)
                if not key.startswith("_"):
                    run["metrics"][key] = json.loads(item.value_json)
        elif kind == "files":
            run["files"] += [f.path for f in record.files.files]
        elif kind == "exit":
            run["exit_code"] = record.exit.exit_code
    run["config"].pop("_wandb", None)
    return run


def _frames(path: str) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a wandb run file")
    at, pending = 7, b""
    while at + _HEADER.size <= len(data):
        left = _BLOCK - at % _BLOCK
        if left < _HEADER.size:  # a block's tail too short for a header is padding
            at += left
            continue
        _checksum, length, kind = _HEADER.unpack_from(data, at)
        at += _HEADER.size
        if kind == 0 and length == 0:
            at += left - _HEADER.size
            continue
        chunk = data[at : at + length]
        at += length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""
