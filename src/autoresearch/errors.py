"""The one error type for failures the user must fix, and the exit statuses of every command."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    FAILED = 1  # something went wrong after work began: a crashed baseline, a stopped loop
    REFUSED = 2  # bad input or a refused action: nothing was changed
    INTERRUPTED = 130  # Ctrl-C, SIGTERM or SIGHUP: the experiment in hand was recorded
    BROKEN_PIPE = 141  # the reader went away (`status | head`), as git ends then


class UserError(Exception):
    """Bad input or a refused action. Raised before anything was changed."""

    exit_code = ExitStatus.REFUSED
