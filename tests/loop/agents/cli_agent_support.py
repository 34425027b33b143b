"""Checks shared by the tests of agents that run a program: is a process really gone."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def process_gone(pid: int) -> bool:
    """No such process, or a zombie waiting for a parent that will never reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
