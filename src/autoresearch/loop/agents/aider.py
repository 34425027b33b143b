"""Aider, scripted: one ``--message``, the files in scope, nothing committed or left in the repo."""

from __future__ import annotations

import re
from pathlib import Path

from autoresearch.loop.agents.base import AgentRequest, Proposal
from autoresearch.loop.agents.process import (
    NO_DESCRIPTION,
    ProcessResult,
    ProgramAgent,
    agent_dir,
    exit_error,
    first_line,
    read_description,
    read_tail,
)

REPLY_FIRST_LINE = "Begin your reply with one line that describes the change you are making."

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TOKENS_LINE = re.compile(
    r"Tokens:\s*(?P<sent>[\d.,]+[kKmM]?)\s+sent,.*?(?P<received>[\d.,]+[kKmM]?)\s+received\."
    r"(?:\s*Cost:\s*\$(?P<message>[\d.,]+)\s+message,\s*\$(?P<session>[\d.,]+)\s+session\.)?"
)
_NOT_PROSE = ("```", "<<<<<<<", "=======", ">>>>>>>")


class AiderAgent(ProgramAgent):
    name = "aider"
    program = "aider"
    install_hint = "install aider (pip install aider-chat) or choose another --agent"

    def history_files(self) -> dict[str, Path]:
        """Aider's history files, kept out of the repository; each holds the last call only."""
        folder = agent_dir(self.setup)
        return {
            "--input-history-file": folder / "aider.input.history",
            "--chat-history-file": folder / "aider.chat.history.md",
            "--llm-history-file": folder / "aider.llm.history",
        }

    def command_line(self, request: AgentRequest) -> list[str]:
        argv = [
            "aider",
            "--message",
            f"{request.prompt.rstrip()}\n\n{REPLY_FIRST_LINE}",
            "--yes-always",
            # The engine owns git: no commits of the edit, nor of files dirty beforehand.
            "--no-auto-commits",
            "--no-dirty-commits",
            # Other formats make an unknown model's answer overwrite whole files.
            "--edit-format",
            "diff",
            "--no-check-update",
            "--no-analytics",
            "--no-show-model-warnings",
            "--map-tokens",
            "0",
            "--no-gitignore",
            "--no-pretty",
        ]
        for flag, path in self.history_files().items():
            argv += [flag, str(path)]
        if self.options.model:
            argv += ["--model", self.options.model]
        return argv + list(self.options.extra_args) + list(request.scope_files)

    def extra_env(self) -> dict[str, str]:
        env = {}
        if self.options.base_url:
            env["OPENAI_API_BASE"] = self.options.base_url
        if self.options.api_key:
            env["OPENAI_API_KEY"] = self.options.api_key
        return env

    def prepare(self, request: AgentRequest) -> None:
        for path in self.history_files().values():
            path.unlink(missing_ok=True)

    def read_proposal(self, result: ProcessResult, request: AgentRequest) -> Proposal:
        if result.returncode != 0:
            raise exit_error(result)
        tokens, cost = parse_usage(result.stdout_tail())
        chat = read_tail(self.history_files()["--chat-history-file"], 64 * 1024)
        description = (
            read_description(self.description_path(request))
            or first_reply_line(chat)
            or NO_DESCRIPTION
        )
        return Proposal(
            description=description, cost_usd=cost, tokens=tokens, details=result.log_details()
        )


def parse_usage(stdout: str) -> tuple[int | None, float | None]:
    """Tokens and cost from aider's ``Tokens: ... sent, ... received. Cost: ...`` lines.

    Aider prints one such line per model reply (retries included): tokens are summed, and the
    cost is the session total of the last line.
    """
    tokens: int | None = None
    cost: float | None = None
    for match in _TOKENS_LINE.finditer(_ANSI_ESCAPE.sub("", stdout)):
        tokens = (tokens or 0) + _count(match["sent"]) + _count(match["received"])
        if match["session"] is not None:
            cost = float(match["session"].replace(",", ""))
    return tokens, cost


def _count(text: str) -> int:
    text = text.replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    number = text[:-1] if scale > 1 else text
    return round(float(number) * scale)


def first_reply_line(chat_history: str) -> str | None:
    """The first line of prose the model wrote after the prompt in aider's chat history.

    The history is markdown: the prompt's lines start with ``####``, aider's own notes with ``>``.
    """
    lines = chat_history.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("####")), None)
    if start is None:
        return None
    in_prompt = True
    for line in lines[start:]:
        text = line.strip()
        if in_prompt:
            in_prompt = text.startswith("####") or not text
            if in_prompt:
                continue
        if text and not text.startswith((">", "####")) and not text.startswith(_NOT_PROSE):
            return first_line(text)
    return None
