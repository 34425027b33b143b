"""Tracked files whose bytes on disk are not what a checkout of their commit writes.

Git converts text between the bytes it stores and the bytes on disk (``text``, ``eol``,
``core.autocrlf``, ``ident``, ``working-tree-encoding``), and the conversion need not undo
itself: a file written with CRLF line ends under ``text=auto`` is stored with LF, so that git
sees no change in it, and a checkout writes LF again. A run in place would read the CRLF bytes,
which no checkout of its commit ever holds. Such files are found here, among those changed since
the session's last run in place, so that the run can be shown the checkout's bytes instead.

Files a filter driver converts are left out: their bytes on disk are the user's filter's (Git
LFS), which the tool does not run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Collection

from autoresearch.store.git_config import environment
from autoresearch.store.git_process import Pending, argv, git, start

_LINK_MODES = ("120000", "160000")


def start_index(repo: str) -> Pending:
    """The index's entries with their blobs, listed while other work goes on."""
    return start(repo, "ls-files", "-s", "-z")


def drifted(repo: str, boundary: float, again: Collection[str], index: Pending) -> dict[str, bytes]:
    """The tracked files changed since ``boundary`` (and those in ``again``, found before) whose
    bytes differ from what a checkout of HEAD writes: path -> the checkout's bytes. ``index``:
    begun with ``start_index``."""
    changed = _changed_since(repo, boundary, again, index.output())
    if not changed:
        return {}
    paths = list(changed)
    # The common case is settled in one call: the bytes on disk are the blob's.
    raw = git(repo, "hash-object", "--no-filters", "--stdin-paths", stdin="\n".join(paths))
    differing = [
        path for path, found in zip(paths, raw.split(), strict=True) if found != changed[path]
    ]
    if not differing:
        return {}
    found = {}
    for path in _without_filters(repo, differing):
        wanted = _checkout_bytes(repo, path)
        with contextlib.suppress(OSError), open(os.path.join(repo, path), "rb") as file:
            if wanted is not None and file.read() != wanted:
                found[path] = wanted
    return found


def _changed_since(
    repo: str, boundary: float, again: Collection[str], index: str
) -> dict[str, str]:
    """Tracked regular files whose status changed after ``boundary``, or named in ``again``:
    path -> blob id."""
    changed = {}
    for entry in index.split("\0"):
        header, _, path = entry.partition("\t")
        fields = header.split(" ")
        if len(fields) != 3 or fields[0] in _LINK_MODES or "\n" in path:
            continue
        try:
            status = os.lstat(os.path.join(repo, path))
        except OSError:
            continue  # absent (a sparse checkout's): nothing to read
        if status.st_ctime > boundary or path in again:
            changed[path] = fields[1]
    return changed


def _without_filters(repo: str, paths: list[str]) -> list[str]:
    """Those of ``paths`` no filter driver converts."""
    out = git(repo, "check-attr", "-z", "--stdin", "filter", stdin="\0".join(paths))
    fields = out.split("\0")
    filtered = {
        path
        for path, value in zip(fields[::3], fields[2::3], strict=False)
        if value not in ("unspecified", "unset")
    }
    return [path for path in paths if path not in filtered]


def _checkout_bytes(repo: str, path: str) -> bytes | None:
    """What a checkout of HEAD writes at ``path``, byte for byte (the tool's other git calls
    read text, which would turn CRLF into LF); None when HEAD does not hold it."""
    done = subprocess.run(
        argv(repo, "cat-file", "--filters", f"HEAD:{path}"),
        cwd=repo,
        env=environment(),
        capture_output=True,
        check=False,
        start_new_session=True,
    )
    return done.stdout if done.returncode == 0 else None
