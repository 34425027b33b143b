"""Experiment trackers (MLflow, Weights & Biases): every experiment as one tracker run.

Each tracker is one module behind the small ``Tracker`` interface, found through ``TRACKERS``;
its library is imported only when that tracker is used, so the core stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from autoresearch.errors import UserError

if TYPE_CHECKING:
    from autoresearch.history.trackers.tracked import Tracked

# Tracker name -> its module in this package (the names ``--track`` accepts).
TRACKERS = {
    "mlflow": "mlflow_tracker",
    "wandb": "wandb_tracker",
}


class TrackerDown(Exception):
    """The tracker could not be reached or refused a run: nothing is lost, it is retried."""


class Tracker(Protocol):
    name: str

    def logged(self, group: str) -> set[str]:
        """The keys of the experiments of ``group`` the tracker holds completely."""
        ...

    def log(self, item: Tracked) -> None:
        """Make ``item`` one finished run; a run left half made by an earlier try is replaced."""
        ...


def open_tracker(name: str, state_dir: str) -> Tracker:
    """The tracker called ``name``; ``state_dir`` holds its local store when it needs one."""
    if name not in TRACKERS:
        raise UserError(f"unknown tracker {name!r}: use {' or '.join(TRACKERS)}")
    try:
        module = importlib.import_module(f"{__name__}.{TRACKERS[name]}")
        return module.open_tracker(state_dir)  # type: ignore[no-any-return]
    except ImportError as error:
        raise UserError(
            f"{name} is not installed ({error.name or error}): pip install 'autoresearch[{name}]'"
        ) from None
    except TrackerDown:
        raise
    except Exception as error:  # noqa: BLE001 - a store that cannot be opened is a tracker down
        text = " ".join(str(error).split())[:200] or type(error).__name__
        raise TrackerDown(f"{name}: {text}") from error


# The library each tracker needs, looked for without importing it.
LIBRARIES = {"mlflow": "mlflow", "wandb": "wandb"}


def require(names: list[str] | tuple[str, ...]) -> None:
    """Refuse, before anything starts, a tracker whose library is not installed."""
    from importlib.util import find_spec

    for name in names:
        if find_spec(LIBRARIES[name]) is None:
            raise UserError(f"--track {name} needs {name}: pip install 'autoresearch[{name}]'")
