"""The real CLI at a real terminal (a pseudo-terminal), for what only a terminal shows: the
progress line, questions asked and answered."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

from support import EVENT_DEADLINE


class Terminal:
    """The CLI as a child process on a real pseudo-terminal of 200 columns, read as a person
    sees it and answered as a person would."""

    def __init__(self, repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.master, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autoresearch", *args],
            cwd=repo,
            stdin=child,
            stdout=child,
            stderr=child,
            env=env,
            close_fds=True,
        )
        os.close(child)
        self.seen = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def _read(self, seconds: float) -> bool:
        """Take in what comes within ``seconds``; False once every holder closed the terminal."""
        ready, _, _ = select.select([self.master], [], [], max(seconds, 0))
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child ended and closed the terminal
            chunk = b""
        self.seen += self._decoder.decode(chunk)
        return bool(chunk)

    def read_until(self, text: str) -> str:
        """The output so far, once ``text`` is in it."""
        deadline = time.monotonic() + EVENT_DEADLINE
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"waited for {text!r}; saw {self.seen!r}"
            assert self._read(left), f"the child ended before {text!r}; saw {self.seen!r}"
        return self.seen

    def read_to_end(self, react: Callable[[str], None] | None = None) -> str:
        """All the output, until the terminal is closed; ``react`` sees it so far as it comes."""
        deadline = time.monotonic() + EVENT_DEADLINE
        while self._read(min(0.2, deadline - time.monotonic())):
            assert time.monotonic() < deadline, f"the child goes on; saw {self.seen!r}"
            if react is not None:
                react(self.seen)
        return self.seen

    def answer(self, text: str) -> None:
        os.write(self.master, text.encode() + b"\r")

    def finish(self) -> int:
        """The exit code, once all the output is read."""
        try:
            self.read_to_end()
            return self.process.wait(timeout=EVENT_DEADLINE)
        finally:
            self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
