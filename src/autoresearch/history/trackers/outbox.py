"""The tracking outbox: ``.autoresearch/<tag>/tracking.jsonl``, append-only.

A ``queued`` line names an experiment that must reach the session's trackers, with what only
the loop knew about it (agent, model, knob values, the verdict's reason); a ``sent`` line says
one tracker has it. What is queued and not sent is pending: a tracker that was down gets it on
the next attempt, and ``autoresearch export`` fills any gap. Every line is flushed before the
caller goes on, so a kill loses nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from autoresearch.store.files import SessionFiles, append_lines


def path(files: SessionFiles) -> str:
    return files.tracking_outbox


@contextlib.contextmanager
def sending(files: SessionFiles) -> Iterator[None]:
    """One sender at a time per session (the loop, a sender started by `try`, `export`): two
    that asked a tracker what it has at the same moment would both send what it lacks."""
    os.makedirs(files.dir, exist_ok=True)
    with open(files.tracking_lock, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # the OS drops it when its holder dies
        yield


def queue(files: SessionFiles, number: int, extra: Mapping[str, Any] | None = None) -> None:
    line = {"queued": number, **({"extra": dict(extra)} if extra else {})}
    os.makedirs(files.dir, exist_ok=True)
    append_lines(path(files), [json.dumps(line, default=str)])


def mark_sent(files: SessionFiles, tracker: str, numbers: list[int]) -> None:
    if numbers:
        append_lines(path(files), [json.dumps({"sent": n, "tracker": tracker}) for n in numbers])


class Outbox:
    """What the file says: the extras by experiment, and what each tracker has not got."""

    def __init__(self, files: SessionFiles) -> None:
        self.extras: dict[int, dict[str, Any]] = {}
        self.queued: list[int] = []
        self.sent: dict[str, set[int]] = {}
        try:
            with open(path(files), encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except FileNotFoundError:
            lines = []
        for text in lines:
            try:
                entry = json.loads(text)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill: queued again by whoever wrote it
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("queued"), int):
                number = entry["queued"]
                if number not in self.queued:
                    self.queued.append(number)
                if isinstance(entry.get("extra"), dict):
                    self.extras.setdefault(number, {}).update(entry["extra"])
            elif isinstance(entry.get("sent"), int) and isinstance(entry.get("tracker"), str):
                self.sent.setdefault(entry["tracker"], set()).add(entry["sent"])

    def pending(self, tracker: str) -> list[int]:
        done = self.sent.get(tracker, set())
        return [number for number in self.queued if number not in done]
