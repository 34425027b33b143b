"""What the model-API agents share: the prompt, settings, error reasons, answer to Proposal.

Each API agent only knows how to send one system and one user message with its SDK and read
the text and token count back; everything else, including applying the answer's edits, is here.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NamedTuple

from autoresearch.errors import UserError
from autoresearch.loop.agents.base import (
    AgentError,
    AgentRequest,
    AgentSetup,
    Outcome,
    Proposal,
)
from autoresearch.loop.agents.edits import apply_answer, files_section, parse_answer

DEFAULT_TIMEOUT_SECONDS = 600.0
# The SDKs retry 408, 409, 429, 5xx, timeouts and dropped connections with backoff.
DEFAULT_MAX_RETRIES = 3

SYSTEM_PROMPT = """\
You are a researcher running one experiment at a time to improve a measured result. You change
code by answering with a one-line description of your idea followed by SEARCH/REPLACE edit
blocks, exactly as the user's message describes. Your edits are applied, committed, run and
measured automatically; the result decides whether they are kept.
"""


class ModelReply(NamedTuple):
    """The text a model answered, with what its API said about the call."""

    text: str
    model: str
    tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    # True when the answer stopped at the output token limit, so it may be cut mid-block.
    cut_off: bool = False


def import_sdk(module: str, extra: str) -> ModuleType:
    """Import an optional SDK, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"the {extra} agent needs the {module} package: pip install 'autoresearch[{extra}]'"
        ) from None


def setting(option: str | None, variable: str) -> str | None:
    """An option given on the command line or in the settings, else the environment variable."""
    return option or os.environ.get(variable) or None


def user_message(request: AgentRequest) -> str:
    """The research prompt followed by the files in scope and the answer format."""
    files = files_section(request.workdir, request.scope_files, request.protected)
    return f"{request.prompt.rstrip()}\n\n{files}"


def proposal_from_reply(reply: ModelReply, request: AgentRequest) -> Proposal:
    """Apply the reply's edits in the working tree and describe them, or raise AgentError."""
    try:
        answer = parse_answer(reply.text)
        changed = apply_answer(answer, request.workdir)
    except AgentError as error:
        if reply.cut_off:
            raise AgentError(f"{error} (the answer hit the output token limit)") from None
        raise
    details: dict[str, object] = {"model": reply.model, "files": changed}
    if reply.input_tokens is not None:
        details["input_tokens"] = reply.input_tokens
    if reply.output_tokens is not None:
        details["output_tokens"] = reply.output_tokens
    return Proposal(description=answer.description, tokens=reply.tokens, details=details)


class ModelAPIAgent:
    """An agent that asks a chat model once per experiment and applies its edit blocks.

    Subclasses name their SDK, build its client in ``_connect`` and send one request in
    ``_ask``; SDK errors become AgentError reasons here, so a failed call costs one attempt
    and the loop goes on.
    """

    name = "model-api"
    service = "the model API"
    answer_kind = "model answer"
    sdk_module = ""
    # Settings not given as options come from PREFIX_MODEL, PREFIX_BASE_URL, PREFIX_API_KEY.
    env_prefix = ""

    def __init__(self, setup: AgentSetup, *, max_retries: int = DEFAULT_MAX_RETRIES) -> None:
        self.setup = setup
        self.max_retries = max_retries
        self.timeout = setup.options.timeout or DEFAULT_TIMEOUT_SECONDS
        prefix = self.env_prefix
        model = setting(setup.options.model, f"{prefix}_MODEL")
        if not model:
            raise UserError(
                f"the {self.name} agent needs a model: give --model or set {prefix}_MODEL"
            )
        self.model: str = model
        self.base_url = setting(setup.options.base_url, f"{prefix}_BASE_URL")
        self.api_key = setting(setup.options.api_key, f"{prefix}_API_KEY")
        if not self.api_key and not self.base_url and not self._has_other_credentials():
            raise UserError(
                f"the {self.name} agent needs an API key: set {prefix}_API_KEY "
                "(or give a base URL for a local server that needs none)"
            )
        if self.base_url:
            self.service = f"{self.service} at {self.base_url}"
        self._sdk = import_sdk(self.sdk_module, self.name)
        self._client = self._connect(self._sdk)

    def propose(self, request: AgentRequest) -> Proposal:
        try:
            reply = self._ask(SYSTEM_PROMPT, user_message(request))
        except self._sdk.APIError as error:
            raise self._failure(error) from error
        except (ValueError, AttributeError, TypeError) as error:
            # A proxy or a server speaking another API can answer 200 with a body the SDK
            # cannot read (plain text, HTML, missing fields); that is a failed attempt, not a crash.
            raise AgentError(
                f"{self.service} sent something that is not a {self.answer_kind}: "
                f"{_short(str(error) or type(error).__name__)}"
            ) from error
        return proposal_from_reply(reply, request)

    def observe(self, outcome: Outcome) -> None:
        """Each call starts from a fresh prompt that already holds the history: nothing to learn."""

    def _has_other_credentials(self) -> bool:
        return False

    def _connect(self, sdk: ModuleType) -> object:
        """The SDK client, built from ``model``, ``base_url``, ``api_key`` and the limits."""
        raise NotImplementedError

    def _ask(self, system: str, user: str) -> ModelReply:
        raise NotImplementedError

    def _failure(self, error: Exception) -> AgentError:
        """A one-line reason for a failed API call."""
        sdk = self._sdk
        tries = f"{self.max_retries + 1} tries" if self.max_retries else "1 try"
        if isinstance(error, sdk.APITimeoutError):
            return AgentError(f"{self.service} gave no answer within {self.timeout:g} s ({tries})")
        if isinstance(error, sdk.APIConnectionError):
            return AgentError(f"cannot reach {self.service} ({tries}): {_cause(error)}")
        if isinstance(error, sdk.APIStatusError):
            status = error.status_code
            retried = status in (408, 409, 429) or status >= 500
            # A wrong path or model name is the usual 404 from a self-hosted server.
            hint = " (check the base URL and the model name)" if status == 404 else ""
            return AgentError(
                f"{self.service} answered HTTP {status}{f' ({tries})' if retried else ''}: "
                f"{_api_message(error)}{hint}"
            )
        return AgentError(f"{self.service} call failed: {_short(str(error))}")


def _api_message(error: Exception) -> str:
    """The server's own error message, without the SDK's "Error code: N - {...}" wrapping."""
    body = getattr(error, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    if isinstance(inner, dict) and inner.get("message"):
        return _short(str(inner["message"]))
    return _short(str(getattr(error, "message", None) or error))


def _cause(error: BaseException) -> str:
    """The innermost message, which names the real problem (refused, unknown host, ...)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return _short(str(error) or type(error).__name__)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
