"""Any shell command as the agent: it finds the prompt and the description file in its environment.

The command runs in the working directory with ``AUTORESEARCH_PROMPT`` (the prompt file) and
``AUTORESEARCH_DESCRIPTION`` (where to write a one-line description) set.
"""

from __future__ import annotations

import shlex

from autoresearch.errors import UserError
from autoresearch.loop.agents.base import AgentRequest, AgentSetup, Proposal
from autoresearch.loop.agents.process import (
    NO_DESCRIPTION,
    ProcessResult,
    ProgramAgent,
    exit_error,
    last_line,
    read_description,
)


class CommandAgent(ProgramAgent):
    name = "command"

    def __init__(self, setup: AgentSetup) -> None:
        super().__init__(setup)
        if not (setup.options.command or "").strip():
            raise UserError("--agent command needs --agent-cmd")
        extra = shlex.join(setup.options.extra_args)
        self.shell_command: str = f"{setup.options.command} {extra}".rstrip()

    def command_line(self, request: AgentRequest) -> list[str]:
        return ["/bin/sh", "-c", self.shell_command]

    def invocation(self, request: AgentRequest) -> str:
        return self.shell_command

    def read_proposal(self, result: ProcessResult, request: AgentRequest) -> Proposal:
        if result.returncode != 0:
            raise exit_error(result)
        description = (
            read_description(self.description_path(request))
            or last_line(result.stdout_tail())
            or NO_DESCRIPTION
        )
        return Proposal(description=description, details=result.log_details())
