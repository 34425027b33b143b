"""Bring a tracker up to date with a ledger: send what it lacks, never anything twice."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from autoresearch.history.trackers import Tracker, TrackerDown
from autoresearch.history.trackers import outbox as outbox_file
from autoresearch.history.trackers.tracked import Source, experiments
from autoresearch.store.files import SessionFiles


class Sent(NamedTuple):
    sent: list[int]
    already: list[int]


def session_source(files: SessionFiles) -> Source:
    branch = f"autoresearch/{files.tag}"
    return Source(group=files.tag, ledger=files.ledger, files=files, branch=branch)


def export(
    tracker: Tracker,
    source: Source,
    extras: Mapping[int, Mapping[str, Any]] | None = None,
    only: Collection[int] | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> Sent:
    """Send every experiment of ``source`` (or those numbered in ``only``) the tracker lacks.

    Raises TrackerDown with one line saying why; what was sent before that is kept (and
    ``on_sent`` was told of it)."""
    sent: list[int] = []
    already: list[int] = []
    try:
        items = [i for i in experiments(source, extras) if only is None or i.number in only]
        if not items:
            return Sent(sent, already)
        have = tracker.logged(source.group)
        for item in items:
            if item.key in have:
                already.append(item.number)
            else:
                tracker.log(item)
                sent.append(item.number)
            if on_sent is not None:
                on_sent(item.number)
    except TrackerDown:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a tracker library raises, the loop goes on
        text = " ".join(str(error).split())[:200] or type(error).__name__
        raise TrackerDown(f"{tracker.name}: {text}") from error
    return Sent(sent, already)


def drain(tracker: Tracker, files: SessionFiles) -> Sent:
    """Send the session's queued experiments this tracker has not got, marking each sent.
    Hold ``outbox.sending``."""
    box = outbox_file.Outbox(files)
    pending = box.pending(tracker.name)
    if not pending:
        return Sent([], [])

    def done(number: int) -> None:
        outbox_file.mark_sent(files, tracker.name, [number])

    return export(tracker, session_source(files), box.extras, set(pending), done)


def export_session(tracker: Tracker, files: SessionFiles) -> Sent:
    """The whole session, with what the loop knew of each experiment; fills the outbox's gaps.
    Hold ``outbox.sending``."""
    box = outbox_file.Outbox(files)
    pending = set(box.pending(tracker.name))

    def done(number: int) -> None:
        if number in pending:
            outbox_file.mark_sent(files, tracker.name, [number])

    return export(tracker, session_source(files), box.extras, on_sent=done)
