"""The one error type for failures the user must fix: printed as one line, exit status 2."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a refused action. Raised before anything was changed."""

    exit_code = 2
