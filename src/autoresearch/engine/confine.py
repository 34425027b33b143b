"""Which sandbox a session's runs get: the setting, what this machine can do, and the paths of
the project a run may not change."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable

from autoresearch.errors import UserError
from autoresearch.rules.settings import PROGRAM_FILE, Settings
from autoresearch.store import sandbox
from autoresearch.store.executors.local import Unseen
from autoresearch.store.files import AUDIT_FILE, LEDGER_FILE, RUN_LOG, STATE_DIR, SessionFiles
from autoresearch.store.settings_file import SETTINGS_FILE

# Read-only inside a run's checkout, whatever the scope: the repository, the books, and what
# steers the loop.
_NEVER_WRITTEN = (".git", LEDGER_FILE, RUN_LOG, SETTINGS_FILE, PROGRAM_FILE)


def in_place(files: SessionFiles, settings: Settings, protected: Iterable[str]) -> Unseen:
    """What keeps a session's runs in place from the untracked files made or changed between
    them (``store.untracked``). Never hidden: the tool's own files, the settings and the
    protected files (read-only in the sandbox, the protected ones checked), and the files the
    commands name (a run script the user wrote and set with `config run`)."""
    named = [
        path for command in _commands(settings) for path in _project_files(files.repo, command)
    ]
    own = (STATE_DIR, *_NEVER_WRITTEN, AUDIT_FILE, *protected, *named)
    return Unseen(files.untracked_seen, files.stand_ins, own)


def _commands(settings: Settings) -> tuple[str, ...]:
    return (settings.run, settings.holdout or "", settings.eval or "")


def _project_files(repo: str, command: str) -> list[str]:
    """The files of the project a command names, relative to it."""
    found = []
    for word in _words(command):
        path = os.path.normpath(os.path.join(repo, word))
        if path.startswith(repo.rstrip("/") + "/") and os.path.isfile(path):
            found.append(os.path.relpath(path, repo))
    return found


def _words(command: str) -> list[str]:
    """The command's words as a shell splits them; none when it does not parse."""
    try:
        return shlex.split(command)
    except ValueError:
        return []


def sandboxed(settings: Settings, remembered: str | None = None) -> bool:
    """Whether runs go in the sandbox: ``auto`` where it works, ``on`` or refuse
    (``remembered``: where a session keeps whether it works on this machine)."""
    if settings.sandbox == "off":
        return False
    reason = sandbox.unavailable(remembered)
    if reason is not None and settings.sandbox == "on":
        raise UserError(f"sandbox = on, but {reason}")
    return reason is None


def run_policy(
    repo: str, settings: Settings, protected: Iterable[str], remembered: str | None = None
) -> sandbox.Policy | None:
    """The sandbox of every run of this session (its checkout is set where it runs), or None
    when the session's runs go without one."""
    if not sandboxed(settings, remembered):
        return None
    named = sorted({path for command in _commands(settings) for path in named_paths(command)})
    return sandbox.Policy(
        project=repo,
        hidden=(STATE_DIR,),
        read_only=(*_NEVER_WRITTEN, *sorted(protected)),
        writable=settings.writable,
        shared=(*settings.share, *named),
        network=not settings.no_network,
    )


def named_paths(command: str) -> list[str]:
    """What a command names by absolute path, visible to it read-only even in the folders the
    sandbox empties: an interpreter (``/home/me/venv/bin/python``: its whole installation, and
    the one it links to) or a script of the user's."""
    found = []
    for word in _words(command):
        if not os.path.isabs(word) or not os.path.exists(word):
            continue
        for path in {word, os.path.realpath(word)}:
            folder = os.path.dirname(path)
            is_program = os.path.basename(folder) == "bin" and os.access(path, os.X_OK)
            found.append(os.path.dirname(folder) if is_program else path)
    return found


def sandbox_line(settings: Settings, remembered: str | None = None) -> str:
    """One line saying what confines this session's runs."""
    if settings.sandbox == "off":
        return "sandbox: off (by the setting): runs are stopped by process group and reaper only"
    reason = sandbox.unavailable(remembered)
    if reason is not None:
        if settings.sandbox == "on":
            return f"sandbox: on, but {reason}: no run can start"
        return f"sandbox: none here ({reason}); runs are stopped by process group and reaper only"
    network = "no network" if settings.no_network else "network on"
    return f"sandbox: bubblewrap ({network})"
