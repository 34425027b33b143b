"""Any OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, llama.cpp, LM Studio, ..."""

from __future__ import annotations

from types import ModuleType

from autoresearch.loop.agents.base import AgentError
from autoresearch.loop.agents.model_api import ModelAPIAgent, ModelReply

# Local servers ignore the key, but the SDK refuses to start without one.
_KEY_FOR_LOCAL_SERVERS = "none"


class OpenAIAgent(ModelAPIAgent):
    """Chat completions with the official ``openai`` SDK; edits come back as SEARCH/REPLACE."""

    name = "openai"
    service = "the OpenAI-compatible endpoint"
    answer_kind = "chat completion"
    sdk_module = "openai"
    env_prefix = "OPENAI"

    def _connect(self, sdk: ModuleType) -> object:
        return sdk.OpenAI(
            api_key=self.api_key or _KEY_FOR_LOCAL_SERVERS,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )

    def _ask(self, system: str, user: str) -> ModelReply:
        response = self._client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        )
        choice = response.choices[0] if response.choices else None
        message = choice.message if choice else None
        if message is not None and getattr(message, "refusal", None):
            raise AgentError(f"the model refused: {message.refusal}")
        usage = response.usage
        return ModelReply(
            text=(message.content if message else None) or "",
            model=response.model or self.model,
            tokens=usage.total_tokens if usage else None,
            input_tokens=usage.prompt_tokens if usage else None,
            output_tokens=usage.completion_tokens if usage else None,
            cut_off=choice is not None and choice.finish_reason == "length",
        )
