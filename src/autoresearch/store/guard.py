"""The tamper guard: protected files, tracked or not, must be the same before and after a run.

At init every file matching a ``--protect`` glob is fingerprinted (size and SHA-256) and, when
small enough, copied aside so it can be put back. Before each run the candidate's copies are
checked, and after the run again: a difference voids the experiment and restores the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.rules.scope import matches
from autoresearch.store.files import STATE_DIR

if TYPE_CHECKING:
    from _typeshed import StrPath

RESTORABLE_BYTES = 64 * 1024 * 1024
_SKIPPED_DIRS = {".git", STATE_DIR}


class Fingerprint(NamedTuple):
    size: int
    sha256: str
    mtime_ns: int

    def to_json(self) -> dict[str, object]:
        return {"size": self.size, "sha256": self.sha256, "mtime_ns": self.mtime_ns}


def fingerprint(path: StrPath) -> Fingerprint:
    import hashlib  # imported where used: every command loads this module, few hash

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    stat = os.stat(path)
    return Fingerprint(stat.st_size, digest.hexdigest(), stat.st_mtime_ns)


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


def changed(repo: StrPath, prints: dict[str, dict[str, object]]) -> list[str]:
    """Protected files that differ from their fingerprint (missing ones included)."""
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
        elif stat.st_mtime_ns == expected["mtime_ns"]:
            continue  # unchanged since fingerprinted: spare hashing a large data file
        elif fingerprint(path).sha256 != expected["sha256"]:
            differing.append(relative)
    return differing


def restore(
    repo: StrPath, paths: Iterable[str], prints: dict[str, dict[str, object]], backup_dir: StrPath
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
