"""Agents: one module each, behind the small interface in ``base``, found through ``REGISTRY``.

Adding an agent is adding one module with a class built from an ``AgentSetup`` and one entry
here. Modules are imported only when chosen, so a missing optional SDK never slows the CLI.
"""

from __future__ import annotations

import importlib

from autoresearch.agents.base import Agent, AgentSetup
from autoresearch.errors import UserError

REGISTRY: dict[str, str] = {
    "claude": "autoresearch.agents.claude:ClaudeAgent",
    "codex": "autoresearch.agents.codex:CodexAgent",
    "aider": "autoresearch.agents.aider:AiderAgent",
    "openai": "autoresearch.agents.openai_api:OpenAIAgent",
    "anthropic": "autoresearch.agents.anthropic_api:AnthropicAgent",
    "command": "autoresearch.agents.command:CommandAgent",
    "tune": "autoresearch.agents.tune:TuneAgent",
}


def build_agent(name: str, setup: AgentSetup) -> Agent:
    if name not in REGISTRY:
        raise UserError(f"unknown agent {name!r}; choose one of: {', '.join(REGISTRY)}")
    module_name, class_name = REGISTRY[name].split(":")
    agent_class = getattr(importlib.import_module(module_name), class_name)
    return agent_class(setup)
