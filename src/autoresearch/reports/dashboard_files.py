"""What the dashboard reads from a session's files, never writing: the ledger up to its last
complete line (the loop may be appending to it at that moment), ``inflight.json`` and the end of
the running experiment's log, found by the session's own naming, never by a path a file gives.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autoresearch.store.files import INFLIGHT_FILE, SessionFiles
from autoresearch.store.ledger import Ledger, parse_lines, parse_number

LOG_TAIL_LINES = 40
# A commit as every other view shows it.
SHORT_HASH = 7
# A log line can be arbitrarily long (progress bars without newlines); never read more than this.
LOG_TAIL_MAX_BYTES = 256 * 1024
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def read_complete_ledger(path: Path) -> Ledger:
    """The ledger up to its last newline: a row still being written is not a row yet."""
    with open(path, "rb") as handle:
        data = handle.read()
    complete = data[: data.rfind(b"\n") + 1]
    text = complete.decode("utf-8", errors="replace")
    return parse_lines(io.StringIO(text, newline=""), path)


def tail_lines(path: Path, count: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``count`` lines of a file, read backwards from its end."""
    with open(path, "rb") as handle:
        end = handle.seek(0, io.SEEK_END)
        start = end
        chunk = b""
        while start > 0 and chunk.count(b"\n") <= count and end - start < LOG_TAIL_MAX_BYTES:
            step = min(8192, start)
            start -= step
            handle.seek(start)
            chunk = handle.read(step) + chunk
    text = chunk.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if start > 0:
        lines = lines[1:]  # the first one is cut somewhere in its middle
    if lines and lines[-1] == "":
        lines.pop()
    # A progress bar redraws its line with carriage returns: only the last drawing shows.
    cleaned = [ANSI_ESCAPE.sub("", line).rstrip("\r").split("\r")[-1] for line in lines]
    return cleaned[-count:]


def read_inflight(files: SessionFiles, now: float) -> dict[str, Any] | None:
    """The experiment in flight, or None when there is none (or its file is mid-write)."""
    try:
        data = json.loads((Path(files.dir) / INFLIGHT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    started = parse_number(str(data.get("started", "")))
    budget = parse_number(str(data.get("budget", "")))
    elapsed = max(0.0, now - started) if started is not None else None
    inflight: dict[str, Any] = {
        "experiment": data.get("experiment"),
        "commit": str(data.get("commit") or "")[:SHORT_HASH],
        "description": str(data.get("description") or ""),
        "started": started,
        "budget": budget,
        "elapsed": elapsed,
        "fraction": elapsed / budget if elapsed is not None and budget else None,
        "log": None,
        "log_tail": [],
    }
    log = run_log(files, data)
    if log is not None:
        inflight["log"] = os.path.relpath(log, files.repo)
        try:
            inflight["log_tail"] = tail_lines(Path(log))
        except OSError as error:
            inflight["log_tail"] = [f"(log not readable: {error.strerror or error})"]
    return inflight


def run_log(files: SessionFiles, inflight: dict[str, Any]) -> str | None:
    """The log of the run in flight: named by the session's own scheme from its experiment,
    commit and run, never a path read from the file, and served only when it resolves to a file
    in the session's log folder (a symlink planted there leads nowhere)."""
    number, commit, run = inflight.get("experiment"), inflight.get("commit"), inflight.get("run")
    if not isinstance(number, int) or not isinstance(commit, str):
        return None
    if not re.fullmatch(r"[0-9a-f]{7,64}", commit) or number < 0:
        return None
    index = run if isinstance(run, int) and run >= 0 else 0
    log = files.archived_log(number, commit, f".run{index + 1}" if index else "")
    folder = os.path.realpath(files.logs)
    resolved = os.path.realpath(log)
    if os.path.dirname(resolved) != folder or not os.path.isfile(resolved):
        return None
    return resolved


def short_commit(worker: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(worker)
    if isinstance(shown.get("commit"), str):
        shown["commit"] = shown["commit"][:SHORT_HASH]
    return shown
