"""Where runs happen, behind one interface: given a commit, a command, a budget, an environment
and devices, run it somewhere and give back the exit status, the log and the wall time.

``local`` runs in the repository itself (the tree the agent edits, as `try` always has);
``worktree`` in a clean checkout of exactly the commit; ``ray`` on a Ray cluster. The engine
never knows which one ran it.
"""

from __future__ import annotations

from autoresearch.store.executors.base import (
    DEVICES_VARIABLE,
    UNWATCHED,
    Executor,
    Ran,
    RunRequest,
    Watch,
)
from autoresearch.store.executors.local import LocalExecutor

__all__ = [
    "DEVICES_VARIABLE",
    "UNWATCHED",
    "Executor",
    "LocalExecutor",
    "Ran",
    "RunRequest",
    "Watch",
]
