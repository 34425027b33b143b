"""The Anthropic Messages API (or anything speaking it at ANTHROPIC_BASE_URL)."""

from __future__ import annotations

import os
from types import ModuleType

from autoresearch.loop.agents.model_api import ModelAPIAgent, ModelReply

# Room for many edit blocks, and accepted by every current model without streaming.
MAX_OUTPUT_TOKENS = 8192
# A stand-in server at a custom base URL may want no key; the SDK then sends this one.
_KEY_FOR_LOCAL_SERVERS = "none"
_INPUT_TOKEN_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class AnthropicAgent(ModelAPIAgent):
    """Messages with the official ``anthropic`` SDK; edits come back as SEARCH/REPLACE."""

    name = "anthropic"
    service = "the Anthropic API"
    answer_kind = "Messages API reply"
    sdk_module = "anthropic"
    env_prefix = "ANTHROPIC"

    def _has_other_credentials(self) -> bool:
        return bool(os.environ.get("ANTHROPIC_AUTH_TOKEN"))

    def _connect(self, sdk: ModuleType) -> object:
        credentials: dict[str, str] = {}
        if self.api_key:
            credentials["api_key"] = self.api_key
        elif self._has_other_credentials():
            credentials["auth_token"] = os.environ["ANTHROPIC_AUTH_TOKEN"]
        else:
            credentials["api_key"] = _KEY_FOR_LOCAL_SERVERS
        return sdk.Anthropic(
            **credentials,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def _ask(self, system: str, user: str) -> ModelReply:
        response = self._client.messages.create(
            model=self.model,
            max_tokens=MAX_OUTPUT_TOKENS,
            system=system,
            messages=[{"role": "user", "content": user}],
        )
        # Thinking and tool blocks carry no edits; only the text is the answer.
        text = "".join(block.text for block in response.content if block.type == "text")
        usage = response.usage
        # Cached prompt tokens are counted apart from input_tokens, but they are still read.
        input_tokens = sum(getattr(usage, field, None) or 0 for field in _INPUT_TOKEN_FIELDS)
        return ModelReply(
            text=text,
            model=response.model or self.model,
            tokens=input_tokens + usage.output_tokens,
            input_tokens=input_tokens,
            output_tokens=usage.output_tokens,
            cut_off=response.stop_reason == "max_tokens",
        )
