"""The one small interface every agent implements, and what passes through it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple, Protocol

from autoresearch.store.sandbox import Policy

# An agent that changes nothing and describes its idea as `retry N` asks the loop to measure
# experiment N's change again (`autoresearch retry N`).
RETRY_REQUEST = re.compile(r"retry\s+#?(\d+)\s*\.?", re.IGNORECASE)


def asked_retry(description: str) -> int | None:
    """The experiment a description asks to measure again, if it is a `retry N`."""
    found = RETRY_REQUEST.fullmatch(description.strip())
    return int(found.group(1)) if found else None


class AgentError(Exception):
    """An attempt that produced nothing to run: the reason is shown and the loop goes on."""


class AgentOptions(NamedTuple):
    """Everything the user can say about an agent on the command line or in the settings."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    command: str | None = None
    timeout: float | None = None
    extra_args: tuple[str, ...] = ()


class AgentRequest(NamedTuple):
    """One call: the prompt (also saved at ``prompt_path``) and where to edit."""

    prompt: str
    prompt_path: Path
    workdir: Path
    scope_files: tuple[str, ...]
    protected: tuple[str, ...] = ()
    description_path: Path | None = None
    fix_attempt: bool = False


class Proposal(NamedTuple):
    """What came back: a one-line description of the idea, and its price when known."""

    description: str
    cost_usd: float | None = None
    tokens: int | None = None
    details: Mapping[str, object] = {}  # never changed in place: each proposal builds its own


class Outcome(NamedTuple):
    """What the engine decided about a proposal, for agents that learn from results."""

    commit: str
    status: str
    value: float | None
    description: str


class Agent(Protocol):
    name: str

    def propose(self, request: AgentRequest) -> Proposal:
        """Edit files under ``request.workdir``; raise AgentError when nothing usable was made."""
        ...

    def observe(self, outcome: Outcome) -> None:
        """Hear the verdict on the last proposal (the tuner learns from it; others ignore it)."""
        ...


class AgentSetup(NamedTuple):
    """What an agent is built from, once per loop."""

    options: AgentOptions
    repo: Path
    state_dir: Path
    ledger_path: Path
    metric: str
    direction: str
    knobs: tuple[dict[str, object], ...] = ()
    seed: int | None = None
    confine: Policy | None = None  # the session's runs' sandbox, from which the agent's is made
