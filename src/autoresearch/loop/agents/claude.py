"""Claude Code in headless mode: ``claude -p PROMPT --output-format json``."""

from __future__ import annotations

import json
from typing import TypeGuard

from autoresearch.loop.agents.base import AgentError, AgentRequest, Proposal
from autoresearch.loop.agents.process import (
    NO_DESCRIPTION,
    ProcessResult,
    ProgramAgent,
    as_number,
    exit_error,
    first_line,
    read_description,
    token_count,
)


class ClaudeAgent(ProgramAgent):
    name = "claude"
    program = "claude"
    install_hint = "install Claude Code or choose another --agent"

    def command_line(self, request: AgentRequest) -> list[str]:
        # The default permission mode refuses every edit and still exits 0.
        argv = [
            "claude",
            "-p",
            self.prompt_for(request),
            "--output-format",
            "json",
            "--permission-mode",
            "acceptEdits",
        ]
        if self.options.model:
            argv += ["--model", self.options.model]
        return argv + list(self.options.extra_args)

    def extra_env(self) -> dict[str, str]:
        env = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        if self.options.base_url:
            env["ANTHROPIC_BASE_URL"] = self.options.base_url
        if self.options.api_key:
            env["ANTHROPIC_API_KEY"] = self.options.api_key
        return env

    def read_proposal(self, result: ProcessResult, request: AgentRequest) -> Proposal:
        report = parse_result(result.stdout_tail())
        # A failed API call can come with exit 1 or exit 0; the report says which it was.
        if report.get("is_error") is True:
            reason = first_line(str(report.get("result") or "")) or report.get("subtype")
            raise AgentError(f"claude reported an error: {reason or 'no details'}")
        if result.returncode != 0:
            raise exit_error(result)
        details = result.log_details()
        for key in ("num_turns", "session_id", "subtype"):
            if key in report:
                details[key] = report[key]
        denials = describe_denials(report.get("permission_denials"))
        if denials:
            details["permission_denials"] = denials
            # Shown when the engine finds no change: the usual cause is a refused edit.
            details["hint"] = f"claude was refused {len(denials)} tool call(s): " + "; ".join(
                denials[:3]
            )
        description = (
            read_description(self.description_path(request))
            or first_line(str(report.get("result") or ""))
            or NO_DESCRIPTION
        )
        return Proposal(
            description=description,
            cost_usd=as_number(report.get("total_cost_usd")),
            tokens=token_count(report.get("usage")),
            details=details,
        )


def parse_result(stdout: str) -> dict[str, object]:
    """The final result object from Claude Code's JSON output; empty when there is none."""
    text = stdout.strip()
    candidates: list[object] = []
    try:
        candidates.append(json.loads(text))
    except ValueError:
        # Output cut at the front, or noise before the object: try lines from the end.
        for line in reversed(text.splitlines()):
            if line.lstrip().startswith(("{", "[")):
                try:
                    candidates.append(json.loads(line))
                    break
                except ValueError:
                    continue
    for candidate in candidates:
        # With --verbose the output is the whole message list; the result comes last.
        records = candidate if isinstance(candidate, list) else [candidate]
        for record in reversed(records):
            if _is_result(record):
                return record
    return {}


def _is_result(record: object) -> TypeGuard[dict[str, object]]:
    return isinstance(record, dict) and ("is_error" in record or record.get("type") == "result")


def describe_denials(denials: object) -> list[str]:
    """Refused tool calls as short strings such as ``Write train.py``."""
    if not isinstance(denials, list):
        return []
    described = []
    for denial in denials:
        if not isinstance(denial, dict):
            described.append(str(denial))
            continue
        tool = str(denial.get("tool_name") or "tool")
        tool_input = denial.get("tool_input")
        target = tool_input.get("file_path") if isinstance(tool_input, dict) else None
        described.append(f"{tool} {target}" if target else tool)
    return described
