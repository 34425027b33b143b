"""Run an agent program: its own process group, standard input closed, output kept in files.

Every agent that is an external program (Claude Code, Codex, Aider, a user's command) goes through
``run_agent_process`` and shares ``ProgramAgent``; only the command line and the reading of the
output differ between them.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from autoresearch.errors import UserError
from autoresearch.loop.agents.base import (
    AgentError,
    AgentRequest,
    AgentSetup,
    Outcome,
    Proposal,
)
from autoresearch.rules.environment import mask_secrets
from autoresearch.store import runner, untracked
from autoresearch.store.sandbox import Policy

PROMPT_ENV = "AUTORESEARCH_PROMPT"
DESCRIPTION_ENV = "AUTORESEARCH_DESCRIPTION"
NO_DESCRIPTION = "(no description)"

# Agents can print megabytes (tool transcripts); only this much of the end is ever read back.
PARSE_TAIL_BYTES = 1024 * 1024
MESSAGE_TAIL_BYTES = 8 * 1024
KILL_GRACE_SECONDS = 2.0
DESCRIPTION_MAX_CHARS = 200


class TurnLimit(NamedTuple):
    """How long an agent's turn may take (None: no limit), how long its processes have to stop
    once told to before they are killed, and where it runs."""

    timeout: float | None
    kill_grace: float = KILL_GRACE_SECONDS
    confine: Policy | None = None  # the sandbox the turn cannot leave (None: none)


class ProcessResult(NamedTuple):
    """How an agent program ended, with its output left on disk."""

    label: str
    returncode: int
    stdout_path: Path
    stderr_path: Path
    seconds: float

    def stdout_tail(self, limit: int = PARSE_TAIL_BYTES) -> str:
        return read_tail(self.stdout_path, limit)

    def stderr_tail(self, limit: int = MESSAGE_TAIL_BYTES) -> str:
        return read_tail(self.stderr_path, limit)

    def log_details(self) -> dict[str, object]:
        return {
            "exit_code": self.returncode,
            "seconds": round(self.seconds, 3),
            "stdout_log": str(self.stdout_path),
            "stderr_log": str(self.stderr_path),
        }


def read_tail(path: Path, limit: int) -> str:
    """The last ``limit`` bytes of a file as text, credentials masked (what an agent printed
    becomes descriptions, error messages and so prompts, and an agent has the tool's whole
    environment); empty when the file is missing."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return mask_secrets(handle.read().decode("utf-8", errors="replace"), os.environ)
    except FileNotFoundError:
        return ""


def one_line(text: str) -> str:
    line = " ".join(text.split())
    if len(line) > DESCRIPTION_MAX_CHARS:
        return line[: DESCRIPTION_MAX_CHARS - 1].rstrip() + "…"
    return line


def first_line(text: str | None) -> str | None:
    for line in (text or "").splitlines():
        if line.strip():
            return one_line(line)
    return None


def last_line(text: str | None) -> str | None:
    for line in reversed((text or "").splitlines()):
        if line.strip():
            return one_line(line)
    return None


def read_description(path: Path) -> str | None:
    """The first non-empty line the agent wrote to its description file, if any."""
    try:
        with path.open("rb") as handle:
            head = handle.read(MESSAGE_TAIL_BYTES)
    except OSError:
        return None
    return first_line(mask_secrets(head.decode("utf-8", errors="replace"), os.environ))


def as_number(value: object) -> float | None:
    """A JSON number as a float; None for anything else (booleans included)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def token_count(
    usage: object, keys: Sequence[str] = ("input_tokens", "output_tokens")
) -> int | None:
    """The sum of the named counters in a usage record; None when it has none of them."""
    if not isinstance(usage, Mapping):
        return None
    counts = [number for key in keys if (number := as_number(usage.get(key))) is not None]
    return int(sum(counts)) if counts else None


def agent_dir(setup: AgentSetup) -> Path:
    return setup.state_dir / "agent"


def description_file(setup: AgentSetup, request: AgentRequest) -> Path:
    return request.description_path or agent_dir(setup) / "description.txt"


def agent_environment(
    setup: AgentSetup, request: AgentRequest, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    env[PROMPT_ENV] = str(request.prompt_path)
    env[DESCRIPTION_ENV] = str(description_file(setup, request))
    return env


def require_program(program: str, env: Mapping[str, str], hint: str) -> str:
    """Where ``program`` is on the PATH the agent will see; a configuration error when absent."""
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise UserError(f"{program} not found on PATH; {hint}")
    return found


def prompt_asking_for_description(request: AgentRequest, path: Path) -> str:
    """The prompt, plus where to write the one-line description unless it already says so."""
    if str(path) in request.prompt:
        return request.prompt
    return (
        f"{request.prompt.rstrip()}\n\nWhen you are done, write a one-line description of what you"
        f" tried to the file {path} (it is outside version control)."
    )


def exit_error(result: ProcessResult, reason: str | None = None) -> AgentError:
    """The error for a program that ended badly, naming ``reason`` or else its last words."""
    if result.returncode < 0:
        try:
            ending = f"was killed by {signal.Signals(-result.returncode).name}"
        except ValueError:
            ending = f"was killed by signal {-result.returncode}"
    else:
        ending = f"exited {result.returncode}"
    reason = (
        reason
        or last_line(result.stderr_tail())
        or last_line(result.stdout_tail(MESSAGE_TAIL_BYTES))
    )
    message = f"{result.label} {ending}"
    return AgentError(f"{message}: {reason}" if reason else message)


def agent_policy(setup: AgentSetup, request: AgentRequest) -> Policy | None:
    """The sandbox of an agent's turn: the runs' own (the books, the state, the protected files
    and the interpreter out of its reach; nothing it starts outlives the turn), but with its home
    and /tmp (its configuration and credentials, its own scripts), its prompt to read and its
    description file to write."""
    if setup.confine is None:
        return None
    description = description_file(setup, request)
    description.touch()  # a file is bound into the sandbox: it must exist (empty: none said)
    # Nothing it writes in a folder git ignores as a whole could be told from what was there:
    # a run in place would read it, and no commit would hold it.
    hidden = setup.confine.hidden  # the session's state, which it must not see either
    ignored = [p for p in untracked.ignored_folders(str(request.workdir)) if p not in hidden]
    return setup.confine._replace(
        read_only=(*setup.confine.read_only, *ignored),
        user_folders=True,
        shared=(*setup.confine.shared, str(request.prompt_path)),
        writable=(*setup.confine.writable, str(description)),
    )


def run_agent_process(
    command: Sequence[str] | str,
    *,
    label: str,
    workdir: Path,
    output_dir: Path,
    env: Mapping[str, str],
    limit: TurnLimit,
) -> ProcessResult:
    """Run ``command`` (argv, or a shell string) to completion or until ``limit.timeout`` s.

    A timeout raises AgentError; Ctrl-C is re-raised. Either way every process of the agent's
    turn is gone first: its group, and those that left it (``setsid``, a detached server) found
    by the run id they inherit, so nothing keeps editing files after the turn.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    stdout_path = output_dir / f"{label}.stdout.log"
    stderr_path = output_dir / f"{label}.stderr.log"
    try:
        spec = runner.Command(
            command,
            workdir,
            stdout_path,
            env,
            kill_after=limit.timeout,
            stderr_path=stderr_path,
            grace=limit.kill_grace,
            confine=limit.confine,
        )
        result = runner.run_command(spec)
    except OSError as error:
        raise AgentError(f"{label} could not be started: {error}") from error
    if result.interrupted:
        raise KeyboardInterrupt
    if result.timed_out:
        raise AgentError(f"agent timed out after {limit.timeout:g} s")
    assert result.exit_code is not None
    return ProcessResult(
        label=label,
        returncode=result.exit_code,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        seconds=result.seconds,
    )


class ProgramAgent:
    """An agent that is an external program: build its command, run it, read what it left.

    Subclasses set ``name``, ``program`` and ``install_hint`` and provide ``command_line`` and
    ``read_proposal``; ``extra_env`` and ``prepare`` are optional hooks.
    """

    name: str = ""
    program: str | None = None
    install_hint: str = "install it or choose another --agent"

    def __init__(self, setup: AgentSetup) -> None:
        self.setup = setup
        self.options = setup.options

    def command_line(self, request: AgentRequest) -> list[str]:
        raise NotImplementedError

    def invocation(self, request: AgentRequest) -> Sequence[str] | str:
        return self.command_line(request)

    def extra_env(self) -> dict[str, str]:
        return {}

    def prepare(self, request: AgentRequest) -> None:
        """Clear per-call files before the program starts."""

    def read_proposal(self, result: ProcessResult, request: AgentRequest) -> Proposal:
        raise NotImplementedError

    def description_path(self, request: AgentRequest) -> Path:
        return description_file(self.setup, request)

    def prompt_for(self, request: AgentRequest) -> str:
        return prompt_asking_for_description(request, self.description_path(request))

    def output_dir(self) -> Path:
        return agent_dir(self.setup)

    def propose(self, request: AgentRequest) -> Proposal:
        env = agent_environment(self.setup, request, self.extra_env())
        if self.program is not None:
            require_program(self.program, env, self.install_hint)
        if not request.prompt_path.exists():
            request.prompt_path.parent.mkdir(parents=True, exist_ok=True)
            request.prompt_path.write_text(request.prompt, encoding="utf-8")
        description = self.description_path(request)
        description.parent.mkdir(parents=True, exist_ok=True)
        # A description left by an earlier call would be credited to this one.
        description.unlink(missing_ok=True)
        self.prepare(request)
        result = run_agent_process(
            self.invocation(request),
            label=self.name,
            workdir=request.workdir,
            output_dir=self.output_dir(),
            env=env,
            limit=TurnLimit(self.options.timeout, confine=agent_policy(self.setup, request)),
        )
        return self.read_proposal(result, request)

    def observe(self, outcome: Outcome) -> None:
        return None
