"""Notice any write to a set of files while a run goes, through Linux's inotify.

Checking a file before and after a run cannot see a change made during the run and undone
before it ends; the kernel can. The folders holding the files are watched (one watch per folder,
however many files), and events are kept only for the files named. Elsewhere than Linux the
watch sees nothing and says so (``available``); the content checks still apply.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
from collections.abc import Iterable, Iterator

_MODIFY, _ATTRIB, _CLOSE_WRITE = 0x2, 0x4, 0x8
_MOVED_FROM, _MOVED_TO, _CREATE, _DELETE = 0x40, 0x80, 0x100, 0x200
_OVERFLOW = 0x4000
_WRITES = _MODIFY | _ATTRIB | _CLOSE_WRITE | _MOVED_FROM | _MOVED_TO | _CREATE | _DELETE
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, length of the name that follows


class FileWatch:
    """Which of the watched files something wrote to, moved, replaced or re-stamped."""

    def __init__(self, root: str, paths: Iterable[str]) -> None:
        self.touched: set[str] = set()
        self.overflowed = False
        self._names: dict[int, tuple[str, set[str]]] = {}  # watch -> folder, its watched names
        self._fd = -1
        by_folder: dict[str, set[str]] = {}
        for relative in paths:
            folder, name = os.path.split(relative)
            by_folder.setdefault(folder, set()).add(name)
        if not by_folder or not sys.platform.startswith("linux"):
            return
        import ctypes  # only where there is something to watch: most sessions protect nothing

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            self._fd = -1
        if self._fd < 0:
            return
        for folder, names in by_folder.items():
            path = os.path.join(root, folder).encode()
            watch = libc.inotify_add_watch(self._fd, path, _WRITES)
            if watch < 0:  # out of watches: this folder is left to the content checks
                continue
            self._names[watch] = (folder, names)

    @property
    def available(self) -> bool:
        return self._fd >= 0

    def collect(self) -> None:
        """Read the events so far (the kernel's queue is bounded: call this now and then)."""
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                return
            offset = 0
            while offset + _EVENT.size <= len(data):
                watch, mask, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length]
                offset += _EVENT.size + length
                if mask & _OVERFLOW:
                    self.overflowed = True
                    continue
                folder, names = self._names.get(watch, ("", set()))
                text = name.rstrip(b"\0").decode(errors="replace")
                if text in names:
                    self.touched.add(os.path.join(folder, text))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


@contextlib.contextmanager
def watching(root: str, paths: Iterable[str]) -> Iterator[FileWatch]:
    """Watch these files (relative to ``root``) for the block; read ``touched`` after it."""
    watch = FileWatch(root, paths)
    try:
        yield watch
        watch.collect()
    finally:
        watch.close()
