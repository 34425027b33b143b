"""The Codex CLI, non-interactive: ``codex exec --json ... PROMPT``, one JSON event per line."""

from __future__ import annotations

import json
from collections.abc import Iterator

from autoresearch.loop.agents.base import AgentError, AgentRequest, Proposal
from autoresearch.loop.agents.process import (
    NO_DESCRIPTION,
    ProcessResult,
    ProgramAgent,
    exit_error,
    first_line,
    read_description,
    token_count,
)

PROVIDER_ID = "autoresearch"


class CodexAgent(ProgramAgent):
    name = "codex"
    program = "codex"
    install_hint = "install the Codex CLI (npm @openai/codex) or choose another --agent"

    def command_line(self, request: AgentRequest) -> list[str]:
        # The default sandbox is read-only: edits are refused and codex still exits 0.
        argv = ["codex", "exec", "--json", "--skip-git-repo-check", "-s", "workspace-write"]
        if self.options.model:
            argv += ["--model", self.options.model]
        argv += self.provider_overrides()
        return argv + list(self.options.extra_args) + [self.prompt_for(request)]

    def provider_overrides(self) -> list[str]:
        """A custom endpoint as ``-c`` settings: codex ignores OPENAI_BASE_URL."""
        if not self.options.base_url:
            return []
        settings = {
            "model_provider": PROVIDER_ID,
            f"model_providers.{PROVIDER_ID}.name": PROVIDER_ID,
            f"model_providers.{PROVIDER_ID}.base_url": self.options.base_url,
            f"model_providers.{PROVIDER_ID}.wire_api": "responses",
        }
        if self.options.api_key:
            settings[f"model_providers.{PROVIDER_ID}.env_key"] = "OPENAI_API_KEY"
        overrides = []
        for key, value in settings.items():
            # Values are read as TOML; a JSON string is a valid TOML string.
            overrides += ["-c", f"{key}={json.dumps(value)}"]
        return overrides

    def extra_env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": self.options.api_key} if self.options.api_key else {}

    def read_proposal(self, result: ProcessResult, request: AgentRequest) -> Proposal:
        summary = summarize_events(result.stdout_tail())
        if summary.failure:
            raise AgentError(f"codex turn failed: {summary.failure}")
        if result.returncode != 0:
            raise exit_error(result, summary.errors[-1] if summary.errors else None)
        details = result.log_details()
        details["turns"] = summary.turns
        if summary.unparsed_lines:
            details["unparsed_lines"] = summary.unparsed_lines
        description = (
            read_description(self.description_path(request))
            or first_line(summary.last_message)
            or NO_DESCRIPTION
        )
        return Proposal(description=description, tokens=summary.tokens, details=details)


class EventSummary:
    """What matters in a codex event stream, gathered while it is read."""

    def __init__(self) -> None:
        self.last_message: str | None = None
        self.tokens: int | None = None
        self.turns = 0
        self.failure: str | None = None
        self.errors: list[str] = []
        self.unparsed_lines = 0


def summarize_events(stdout: str) -> EventSummary:
    summary = EventSummary()
    for event in _events(stdout, summary):
        kind = event.get("type")
        if kind == "turn.completed":
            summary.turns += 1
            used = token_count(event.get("usage"))
            if used is not None:
                summary.tokens = (summary.tokens or 0) + used
        elif kind == "turn.failed":
            summary.failure = _message_of(event.get("error")) or "no details"
        elif kind == "error":
            summary.errors.append(_message_of(event) or "unknown error")
        message = _agent_message(event)
        if message:
            summary.last_message = message
    return summary


def _events(stdout: str, summary: EventSummary) -> Iterator[dict[str, object]]:
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            # Log lines, or an event cut in half at the start of the tail.
            summary.unparsed_lines += 1
            continue
        if isinstance(event, dict):
            yield event


def _agent_message(event: dict[str, object]) -> str | None:
    """The agent's text in the event shapes codex has used: items now, ``msg`` records before."""
    item = event.get("item")
    if event.get("type") == "item.completed" and isinstance(item, dict):
        item_kind = item.get("type") or item.get("item_type")
        if item_kind in ("agent_message", "assistant_message"):
            return _text_of(item.get("text"))
    message = event.get("msg")
    if isinstance(message, dict):
        if message.get("type") == "agent_message":
            return _text_of(message.get("message"))
        if message.get("type") == "task_complete":
            return _text_of(message.get("last_agent_message"))
    return None


def _message_of(record: object) -> str | None:
    if isinstance(record, dict):
        return first_line(_text_of(record.get("message")))
    return first_line(_text_of(record))


def _text_of(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
