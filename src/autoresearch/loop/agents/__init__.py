"""Agents: one module each, behind the small interface in ``base``, found through ``REGISTRY``.

Adding an agent is adding one module with a class built from an ``AgentSetup`` and one entry
here. Modules are imported only when chosen, so a missing optional SDK never slows the CLI.
"""

from __future__ import annotations

import importlib

from autoresearch.errors import UserError
from autoresearch.loop.agents.base import Agent, AgentSetup

REGISTRY: dict[str, str] = {
    "claude": "autoresearch.loop.agents.claude:ClaudeAgent",
    "codex": "autoresearch.loop.agents.codex:CodexAgent",
    "aider": "autoresearch.loop.agents.aider:AiderAgent",
    "openai": "autoresearch.loop.agents.openai_api:OpenAIAgent",
    "anthropic": "autoresearch.loop.agents.anthropic_api:AnthropicAgent",
    "command": "autoresearch.loop.agents.command:CommandAgent",
    "tune": "autoresearch.loop.agents.tune:TuneAgent",
}


def build_agent(name: str, setup: AgentSetup) -> Agent:
    if name not in REGISTRY:
        raise UserError(f"unknown agent {name!r}; choose one of: {', '.join(REGISTRY)}")
    module_name, class_name = REGISTRY[name].split(":")
    agent_class = getattr(importlib.import_module(module_name), class_name)
    return agent_class(setup)
