"""The loop's trackers: each experiment goes to MLflow / W&B from a background thread.

The loop never waits on a tracker and never stops for one. Each experiment is queued in the
session's durable outbox first; the thread sends what is queued after every experiment. A tracker
that fails is one warning, its experiments stay queued and go with the next attempt, and
`autoresearch export` sends whatever is still missing later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autoresearch.engine.experiment import Experiment
from autoresearch.errors import UserError
from autoresearch.history.trackers import Tracker, TrackerDown, open_tracker
from autoresearch.history.trackers import outbox as outbox_file
from autoresearch.history.trackers.sync import drain, export_session
from autoresearch.store.files import SessionFiles

# How long the loop's end waits for the last experiments to reach the trackers.
CLOSING_WAIT = 60.0


class Tracking:
    def __init__(
        self,
        files: SessionFiles,
        names: Sequence[str],
        say: Callable[[str], None],
        known: Mapping[str, Any] | None = None,
    ) -> None:
        self.files = files
        self.names = tuple(names)
        self.say = say
        # What holds for every experiment: the agent, its model.
        self.known = {key: value for key, value in (known or {}).items() if value is not None}
        self.down: dict[str, str] = {}
        self._caught_up: set[str] = set()
        self._trackers: dict[str, Tracker] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="tracking", daemon=True)

    def start(self) -> None:
        """Begin by sending whatever the trackers lack (the baseline, experiments of `try`)."""
        self._thread.start()
        self._wake.set()

    def submit(self, experiment: Experiment, details: Mapping[str, Any] | None = None) -> None:
        extra = {**self.known, "reason": experiment.reason}
        knobs = (details or {}).get("knobs")
        if isinstance(knobs, Mapping):
            extra["knobs"] = dict(knobs)
        outbox_file.queue(self.files, experiment.number, extra)
        self._wake.set()

    def close(self, wait: float = CLOSING_WAIT) -> None:
        """Send what is left, waiting at most ``wait`` seconds; say what stays queued."""
        self._stopping = True
        self._wake.set()
        self._thread.join(wait)
        box = outbox_file.Outbox(self.files)
        for name in self.names:
            left = len(box.pending(name))
            if left:
                self.say(
                    f"tracking: {left} experiment(s) wait for {name} in the outbox; "
                    f"`autoresearch export {name}` sends them"
                )

    def _work(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            stopping = self._stopping
            for name in self.names:
                self._send(name)
            if stopping:
                return

    def _send(self, name: str) -> None:
        try:
            with outbox_file.sending(self.files):
                tracker = self._trackers.get(name) or open_tracker(name, self.files.root)
                self._trackers[name] = tracker
                if name in self._caught_up:
                    drain(tracker, self.files)
                else:
                    export_session(tracker, self.files)
                    self._caught_up.add(name)
        except (TrackerDown, UserError) as failure:
            self._warn(name, str(failure))
        except Exception as failure:  # noqa: BLE001 - a tracker never stops the loop
            self._warn(name, f"{name}: {type(failure).__name__}: {failure}")
        else:
            if self.down.pop(name, None) is not None:
                self.say(f"tracking: {name} answers again; the queued experiments were sent")

    def _warn(self, name: str, text: str) -> None:
        if name not in self.down:
            self.say(
                f"tracking: {text} — experiments are queued and retried after each one "
                f"(`autoresearch export {name}` fills any gap)"
            )
        self.down[name] = text
