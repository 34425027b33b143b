"""Which agent to use when the user did not say: the first one this machine can run."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

from autoresearch.errors import UserError

CLI_AGENTS = ("claude", "codex", "aider")


def default_agent_name(env: Mapping[str, str], knobs_declared: bool) -> str:
    """Claude Code, Codex or Aider if installed, else an OpenAI-compatible API, else the tuner."""
    path = env.get("PATH", os.defpath)
    for name in CLI_AGENTS:
        if shutil.which(name, path=path):
            return name
    if env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"):
        return "openai"
    if knobs_declared:
        return "tune"
    raise UserError(
        "no agent available: install claude, codex or aider, set OPENAI_API_KEY or"
        " OPENAI_BASE_URL for --agent openai, declare knobs for --agent tune, or pick one with"
        " --agent (claude, codex, aider, openai, anthropic, command, tune)"
    )


def chosen_agent(options: Mapping[str, Any], knobs_declared: bool) -> str:
    """The agent the options name, else the first this machine can run (a UserError when none):
    the one `loop` would use, and `doctor` checks."""
    return str(options.get("agent") or default_agent_name(os.environ, knobs_declared))
