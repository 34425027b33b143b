"""Running git: a command started now and read later (``Pending``), or run to its end (``git``).

Every git process is started here, out of the terminal's process group, and retried while
another git process holds the index for a moment.
"""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING

from autoresearch.store.git_config import environment, overrides

if TYPE_CHECKING:
    from _typeshed import StrPath


# Another git process (an editor's or a shell prompt's status, the user's own command) holding the
# index for a moment makes ours fail before it changes anything; a night-long loop should not stop
# on that. A lock still there after these pauses (about 3 s) is reported as git words it.
_INDEX_LOCK_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.5)


class GitError(OSError):
    """A git command failed; its own message says why."""


def _index_was_locked(stderr: str) -> bool:
    return "index.lock" in stderr and "File exists" in stderr


class Pending:
    """A git command already running, so that the caller can do other work meanwhile.

    ``output()`` waits for it and checks how it ended; leaving a ``with`` block waits too, so no
    git process outlives the code that started it.
    """

    __slots__ = ("_args", "_process", "_repo", "_stdin", "stderr")

    def __init__(self, repo: StrPath, args: tuple[str, ...], stdin: str | None = None) -> None:
        self._repo = repo
        self._args = args
        self._stdin = stdin
        self.stderr = ""
        self._process = self._start()

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            argv(self._repo, *self._args),
            cwd=self._repo,
            env=environment(),
            stdin=None if self._stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            # Out of the terminal's process group: a Ctrl-C held while the books are kept must
            # not kill the git commands that keep them.
            start_new_session=True,
        )

    def output(self, check: bool = True) -> str:
        stdout, stderr = self._process.communicate(self._stdin)
        for pause in _INDEX_LOCK_PAUSES:
            if self._process.returncode == 0 or not _index_was_locked(stderr):
                break
            time.sleep(pause)
            self._process = self._start()
            stdout, stderr = self._process.communicate(self._stdin)
        self.stderr = stderr
        if check and self._process.returncode != 0:
            raise self.error()
        return stdout

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def error(self) -> GitError:
        return GitError(f"git {' '.join(self._args[:3])} failed: {self.stderr.strip()}")

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._process.__exit__(*exc_info)


def argv(repo: StrPath, *args: str) -> list[str]:
    """A git command line for ``repo`` that runs none of the programs the repository names."""
    return ["git", *overrides(repo), *args]


def start(repo: StrPath, *args: str) -> Pending:
    """Start a git command and return at once; its output is read later."""
    return Pending(repo, args)


def start_batch(repo: StrPath, names: list[str]) -> Pending:
    """Start printing the objects these names stand for (``cat-file --batch``), in one call."""
    return Pending(repo, ("cat-file", "--batch"), "".join(f"{name}\n" for name in names))


def git(repo: StrPath, *args: str, stdin: str | None = None, check: bool = True) -> str:
    return Pending(repo, args, stdin).output(check)


def completed(
    repo: StrPath, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A git command run to its end, unchecked, for the calls whose exit status is the answer
    (``merge-base --is-ancestor``, ``apply``): the same command line, environment and process
    session as every other git call of the tool's."""
    return subprocess.run(
        argv(repo, *args),
        cwd=repo,
        env=environment(),
        input=stdin,
        capture_output=True,
        encoding="utf-8",
        errors="surrogateescape",
        start_new_session=True,
    )
