"""What a run sees of the tool's environment, and what a person or an agent is shown of its log:
the environment scrubbed to the allowlist (``rules/environment.py``) plus the session's own
variables; a log's tail with every credential of the tool's environment masked."""

from __future__ import annotations

import os

from autoresearch.rules import environment
from autoresearch.rules.settings import Settings
from autoresearch.store import runner


def run_environment(
    settings: Settings,
    commit: str,
    experiment: str,
    seed: int,
) -> dict[str, str]:
    """What a run sees: the allowlisted part of the tool's own environment, the variables the
    user passed, and the session's.

    The names passed travel too, as ``AUTORESEARCH_PASS_ENV``, so that a run started elsewhere
    (a Ray worker) lets through the same names of its own environment."""
    passed = settings.pass_env
    found = environment.run_environment(os.environ, passed)
    session = {
        "AUTORESEARCH_TAG": settings.tag,
        "AUTORESEARCH_COMMIT": commit,
        "AUTORESEARCH_BUDGET": f"{settings.budget:g}" if settings.budget is not None else "",
        "AUTORESEARCH_EXPERIMENT": experiment,
        "AUTORESEARCH_SEED": str(seed),
    }
    if passed:
        session[environment.PASSED_NAMES_VARIABLE] = " ".join(passed)
    return {**found, **session}


def shown_tail(path: str, count: int = 50, max_chars: int = 400) -> list[str]:
    """The last ``count`` non-empty lines of a run's log, as a person or an agent is shown them:
    each credential of the tool's environment masked, then cut to ``max_chars`` (masked first, so
    that a cut never leaves part of a secret behind)."""
    lines: list[str] = []
    if not os.path.exists(path):
        return lines
    mask = environment.secret_masker(os.environ)
    for line in runner.lines_from_end(path):
        if line.strip():
            lines.append(mask(line.rstrip("\r"))[:max_chars])
            if len(lines) >= count:
                break
    return lines[::-1]
