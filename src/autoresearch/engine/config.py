"""Changing a running session's settings: how it runs and measures, never what it optimizes.

The metric and its direction define the session: every recorded value is compared under them,
so they stay. The run command, the time limits, the metric's pattern and the noise settings may
change; each change is recorded with the experiment from which it applies, so the history
stays explainable.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from autoresearch.engine.session import Session
from autoresearch.errors import UserError
from autoresearch.rules.settings import validate
from autoresearch.rules.settings_table import CHANGEABLE, CLEARABLE
from autoresearch.store.files import now

DEFINING = ("metric", "direction")


class Change(NamedTuple):
    key: str
    old: Any
    new: Any
    from_experiment: int  # the first experiment run under the new value

    @property
    def changed(self) -> bool:
        return self.old != self.new


def setting_key(word: str) -> str:
    """The setting a command-line word names (``min-delta`` is ``min_delta``); refuses the
    ones a session cannot change."""
    key = word.strip().lower().replace("-", "_")
    if key in DEFINING:
        raise UserError(
            f"{key} defines the session and stays; `autoresearch end`, then "
            f"`autoresearch init` a new session with another {key}"
        )
    if key not in CHANGEABLE:
        raise UserError(f"{word!r} cannot be changed in a session (can: {', '.join(CHANGEABLE)})")
    return key


def change_setting(session: Session, word: str, value: str) -> Change:
    """Validate and record one new setting. Hold the session's lock."""
    key = setting_key(word)
    current = session.settings
    values = current.to_dict()
    values["run"] = current.run or None  # an imported history may have none yet
    cleared = key in CLEARABLE and value.strip().lower() in ("", "none")
    values[key] = None if cleared else value
    settings = validate(values, knobs=current.knobs, loop=current.loop, need_run=False)
    change = Change(
        key, getattr(current, key), getattr(settings, key), session.read_ledger().data_lines
    )
    if not change.changed:
        return change
    record = {
        "key": key,
        "old": change.old,
        "new": change.new,
        "from_experiment": change.from_experiment,
        "at": now(),
    }
    changes = (*session.meta.changes, record)
    session.save(session.meta._replace(settings=settings, changes=changes), "config")
    return change
