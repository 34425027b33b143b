"""The tamper guard: protected files, tracked or not, must be the same before and after a run.

At init every file matching a ``--protect`` glob is fingerprinted (size, SHA-256, times) and,
when small enough, copied aside so it can be put back. Before each run the files are checked,
and after the run again: a difference voids the experiment and restores the file. Files are
compared by content: always below ``ALWAYS_HASHED_BYTES``, and above it whenever the size, the
modification time or the change time (which no program can set back) moved since the content
was last found intact. During the run they are read-only (see ``read_only``).
"""

from __future__ import annotations

import contextlib
import os
import stat as stat_module
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.rules.scope import matches
from autoresearch.store.files import STATE_DIR

if TYPE_CHECKING:
    from _typeshed import StrPath

RESTORABLE_BYTES = 64 * 1024 * 1024
# Hashing a file this small costs less than a process start; above it, trusting unchanged
# times spares hashing a data file of gigabytes twice per run.
ALWAYS_HASHED_BYTES = 1024 * 1024
_WRITE_BITS = 0o222
_SKIPPED_DIRS = {".git", STATE_DIR}


class Fingerprint(NamedTuple):
    size: int
    sha256: str
    mtime_ns: int
    ctime_ns: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "size": self.size,
            "sha256": self.sha256,
            "mtime_ns": self.mtime_ns,
            "ctime_ns": self.ctime_ns,
        }


def fingerprint(path: StrPath) -> Fingerprint:
    import hashlib  # imported where used: every command loads this module, few hash

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    stat = os.stat(path)
    return Fingerprint(stat.st_size, digest.hexdigest(), stat.st_mtime_ns, stat.st_ctime_ns)


def protected_paths(repo: StrPath, patterns: Iterable[str]) -> list[str]:
    """Every file under the repository matching a protect glob, whether git tracks it or not."""
    patterns = list(patterns)
    found: list[str] = []
    if not patterns:
        return found
    for folder, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        for name in files:
            relative = os.path.relpath(os.path.join(folder, name), repo)
            if matches(relative, patterns):
                found.append(relative)
    return sorted(found)


def snapshot(
    repo: StrPath, patterns: Iterable[str], backup_dir: StrPath
) -> dict[str, dict[str, object]]:
    """Fingerprint the protected files now, keeping a copy of the ones small enough."""
    import shutil

    prints: dict[str, dict[str, object]] = {}
    for relative in protected_paths(repo, patterns):
        source = os.path.join(repo, relative)
        print_ = fingerprint(source)
        entry = print_.to_json()
        if print_.size <= RESTORABLE_BYTES:
            target = os.path.join(backup_dir, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
            entry["backup"] = True
        prints[relative] = entry
    return prints


def changed(
    repo: StrPath,
    prints: Mapping[str, Mapping[str, object]],
    intact: dict[str, list[int]] | None = None,
) -> list[str]:
    """Protected files whose content differs from their fingerprint (missing ones included).

    ``intact`` maps a file to the (size, mtime, ctime) at which its content was last found
    intact; it is updated here, so that a large file is hashed again only once its times move.
    """
    intact = {} if intact is None else intact
    differing = []
    for relative, expected in prints.items():
        path = os.path.join(repo, relative)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            differing.append(relative)
            continue
        if stat.st_size != expected["size"]:
            differing.append(relative)
            continue
        times = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
        unmoved = times[1:] == [expected["mtime_ns"], expected.get("ctime_ns")]
        if stat.st_size > ALWAYS_HASHED_BYTES and (unmoved or intact.get(relative) == times):
            continue
        if fingerprint(path).sha256 != expected["sha256"]:
            differing.append(relative)
        else:
            intact[relative] = times
    return differing


def writable_modes(repo: StrPath, paths: Iterable[str]) -> dict[str, int]:
    """The permission bits of the protected files that some user may write to (their own,
    not the read-only ones a run going meanwhile gave them)."""
    modes = {}
    with _held_lock:
        for relative in paths:
            path = os.path.join(repo, relative)
            if path in _held:
                modes[relative] = _held[path].mode
                continue
            with contextlib.suppress(OSError):
                mode = stat_module.S_IMODE(os.stat(path).st_mode)
                if mode & _WRITE_BITS:
                    modes[relative] = mode
    return modes


class _Held(NamedTuple):
    runs: int  # the runs going that hold the file read-only
    mode: int  # its own permission bits, put back when the last of them ends


# Runs side by side (parallel workers) share the read-only state of a file: only the first to
# start and the last to end change its modes, so that no run's watch sees the change of modes
# another one makes as a write.
_held: dict[str, _Held] = {}
_held_lock = threading.Lock()


@contextlib.contextmanager
def read_only(repo: StrPath, modes: Mapping[str, int]) -> Iterator[None]:
    """The files (from ``writable_modes``) without write permission for the block.

    That stops any program of the user's own account from writing them; root ignores
    permissions, which is why the run is also watched (``file_watch``). After a kill of the tool
    ``restore_modes`` puts the modes back from the in-flight file.
    """
    paths = {os.path.join(repo, relative): mode for relative, mode in modes.items()}
    with _held_lock:
        for path, mode in paths.items():
            held = _held.get(path, _Held(0, mode))
            if held.runs == 0:
                with contextlib.suppress(OSError):
                    os.chmod(path, mode & ~_WRITE_BITS)
            _held[path] = held._replace(runs=held.runs + 1)
    try:
        yield
    finally:
        with _held_lock:
            for path in paths:
                held = _held.pop(path)
                if held.runs > 1:
                    _held[path] = held._replace(runs=held.runs - 1)
                    continue
                with contextlib.suppress(OSError):
                    os.chmod(path, held.mode)


def restore_modes(repo: StrPath, modes: Mapping[str, object]) -> None:
    for relative, mode in modes.items():
        if isinstance(mode, int):
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(repo, relative), mode)


def restore(
    repo: StrPath,
    paths: Iterable[str],
    prints: Mapping[str, Mapping[str, object]],
    backup_dir: StrPath,
) -> list[str]:
    """Put protected files back from their copies; returns those that could not be restored."""
    import shutil

    lost = []
    for relative in paths:
        backup = os.path.join(backup_dir, relative)
        if prints.get(relative, {}).get("backup") and os.path.isfile(backup):
            target = os.path.join(repo, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(backup, target)
        else:
            lost.append(relative)
    return lost
