"""The OpenAI-compatible and Anthropic agents against a real HTTP server speaking each API."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from model_server import ModelServer, Reply, openai_answer, serving
from support import EVENT_DEADLINE, FOREVER

from autoresearch.errors import UserError
from autoresearch.loop.agents import build_agent
from autoresearch.loop.agents.anthropic_api import AnthropicAgent
from autoresearch.loop.agents.base import (
    AgentError,
    AgentOptions,
    AgentRequest,
    AgentSetup,
    Proposal,
)
from autoresearch.loop.agents.model_api import ModelAPIAgent
from autoresearch.loop.agents.openai_api import OpenAIAgent

TRAIN = "lr = 0.01\nsteps = 100\nprint('val_loss:', 1.0 / (lr * steps))\n"
GOOD_ANSWER = (
    "Raise the learning rate to 0.03\n"
    "```python\ntrain.py\n<<<<<<< SEARCH\nlr = 0.01\n=======\nlr = 0.03\n>>>>>>> REPLACE\n```\n"
)
PROMPT = "Lower val_loss. Best so far: 1.0 (commit abc1234)."


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with serving() as model_server:
        yield model_server


@dataclass(frozen=True)
class Flavor:
    """How one API is spoken: where it lives, what an answer looks like, its variables."""

    name: str
    agent_class: type[ModelAPIAgent]
    path: str
    url_suffix: str
    env_prefix: str
    answer: Callable[[str, str], dict[str, Any]]
    user_text: Callable[[dict[str, Any]], str]
    system_text: Callable[[dict[str, Any]], str]


def anthropic_answer(text: str, finish: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "served-model",
        "content": [{"type": "text", "text": text}],
        "stop_reason": finish,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 50},
    }


FLAVORS = {
    "openai": Flavor(
        name="openai",
        agent_class=OpenAIAgent,
        path="/v1/chat/completions",
        url_suffix="/v1",
        env_prefix="OPENAI",
        answer=lambda text, finish: openai_answer(text, finish or "stop"),
        user_text=lambda body: body["messages"][-1]["content"],
        system_text=lambda body: body["messages"][0]["content"],
    ),
    "anthropic": Flavor(
        name="anthropic",
        agent_class=AnthropicAgent,
        path="/v1/messages",
        url_suffix="",
        env_prefix="ANTHROPIC",
        answer=lambda text, finish: anthropic_answer(text, finish or "end_turn"),
        user_text=lambda body: body["messages"][-1]["content"],
        system_text=lambda body: body["system"],
    ),
}
CUT_OFF = {"openai": "length", "anthropic": "max_tokens"}
SERVER_ERROR = {"error": {"type": "server_error", "message": "the server is overloaded"}}


@pytest.fixture(params=sorted(FLAVORS))
def flavor(request: pytest.FixtureRequest) -> Flavor:
    return FLAVORS[request.param]


@pytest.fixture(autouse=True)
def no_api_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for prefix in ("OPENAI", "ANTHROPIC"):
        for suffix in ("MODEL", "BASE_URL", "API_KEY", "AUTH_TOKEN"):
            monkeypatch.delenv(f"{prefix}_{suffix}", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    workdir = tmp_path / "repo"
    workdir.mkdir()
    (workdir / "train.py").write_text(TRAIN)
    return workdir


def make_setup(repo: Path, **options: Any) -> AgentSetup:
    return AgentSetup(
        options=AgentOptions(**options),
        repo=repo,
        state_dir=repo / ".autoresearch",
        ledger_path=repo / "results.tsv",
        metric="val_loss",
        direction="minimize",
    )


def make_agent(
    flavor: Flavor,
    server: ModelServer,
    repo: Path,
    *,
    timeout: float = EVENT_DEADLINE,
    **kwargs: Any,
) -> ModelAPIAgent:
    setup = make_setup(
        repo,
        model="test-model",
        api_key="sk-test",
        base_url=server.url + flavor.url_suffix,
        timeout=timeout,
    )
    return flavor.agent_class(setup, **kwargs)


def request_for(repo: Path) -> AgentRequest:
    return AgentRequest(
        prompt=PROMPT,
        prompt_path=repo.parent / "prompt.md",
        workdir=repo,
        scope_files=("train.py",),
    )


def ask(agent: ModelAPIAgent, repo: Path) -> Proposal:
    return agent.propose(request_for(repo))


def script(server: ModelServer, flavor: Flavor, text: str, finish: str = "") -> None:
    server.replies = [Reply(body=flavor.answer(text, finish))]


def test_a_good_answer_edits_the_file_and_reports_description_and_tokens(
    flavor: Flavor, server: ModelServer, repo: Path
) -> None:
    script(server, flavor, GOOD_ANSWER)
    setup = make_setup(
        repo, model="test-model", api_key="sk-test", base_url=server.url + flavor.url_suffix
    )
    proposal = build_agent(flavor.name, setup).propose(request_for(repo))

    assert proposal.description == "Raise the learning rate to 0.03"
    assert (repo / "train.py").read_text() == TRAIN.replace("lr = 0.01", "lr = 0.03")
    assert proposal.tokens == 150
    assert proposal.cost_usd is None
    assert proposal.details["files"] == ["train.py"]
    [sent] = server.requests
    assert sent["path"] == flavor.path
    assert sent["body"]["model"] == "test-model"
    # Older Anthropic SDKs send x-api-key, newer ones a bearer token; either delivers the key.
    assert "sk-test" in sent_credentials(sent) or "Bearer sk-test" in sent_credentials(sent)
    user_text = flavor.user_text(sent["body"])
    assert user_text.startswith(PROMPT)
    assert TRAIN.rstrip("\n") in user_text
    assert "<<<<<<< SEARCH" in user_text
    assert "SEARCH/REPLACE" in flavor.system_text(sent["body"])


def test_a_new_file_can_be_created(flavor: Flavor, server: ModelServer, repo: Path) -> None:
    script(
        server,
        flavor,
        "Move the schedule into its own module\nschedule.py\n"
        "<<<<<<< SEARCH\n=======\ndef lr_at(step):\n    return 0.01\n>>>>>>> REPLACE\n",
    )
    proposal = ask(make_agent(flavor, server, repo), repo)
    assert proposal.description == "Move the schedule into its own module"
    assert (repo / "schedule.py").read_text() == "def lr_at(step):\n    return 0.01\n"


UNUSABLE_ANSWERS = [
    ("Idea\ntrain.py\n<<<<<<< SEARCH\nlr = 0.01\n>>>>>>> REPLACE\n", "malformed edit block"),
    (
        "Idea\ntrain.py\n<<<<<<< SEARCH\nlr = 0.5\n=======\nlr = 1\n>>>>>>> REPLACE\n",
        r"SEARCH text not found in train.py \(first line: 'lr = 0.5'\)",
    ),
    (
        "Idea\n../escaped.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n",
        "path escapes the working tree: ../escaped.py",
    ),
    ("I would try a larger learning rate.", "no edit blocks in the answer"),
    ("", "empty answer"),
]


def test_unusable_answers_are_agent_errors_that_change_nothing(
    flavor: Flavor, server: ModelServer, repo: Path
) -> None:
    # One agent serves a whole loop, so it is asked again after each failed attempt.
    agent = make_agent(flavor, server, repo)
    for answer, reason in UNUSABLE_ANSWERS:
        script(server, flavor, answer)
        with pytest.raises(AgentError, match=reason):
            ask(agent, repo)
        assert (repo / "train.py").read_text() == TRAIN
        assert sorted(path.name for path in repo.parent.iterdir()) == ["repo"]
    script(server, flavor, GOOD_ANSWER)
    assert ask(agent, repo).description == "Raise the learning rate to 0.03"


def test_an_answer_cut_off_at_the_token_limit_says_so(
    flavor: Flavor, server: ModelServer, repo: Path
) -> None:
    script(server, flavor, GOOD_ANSWER.split("=======")[0], CUT_OFF[flavor.name])
    with pytest.raises(AgentError, match="hit the output token limit"):
        ask(make_agent(flavor, server, repo), repo)


def test_a_slow_server_is_given_up_on_at_the_timeout(
    flavor: Flavor, server: ModelServer, repo: Path
) -> None:
    server.replies = [Reply(body=flavor.answer(GOOD_ANSWER, ""), delay=FOREVER)]
    agent = make_agent(flavor, server, repo, timeout=0.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(AgentError, match=r"gave no answer within 0.5 s \(1 try\)"):
        ask(agent, repo)
    assert time.monotonic() - started < EVENT_DEADLINE  # not FOREVER: it gave up
    assert (repo / "train.py").read_text() == TRAIN


def test_a_server_error_is_retried(flavor: Flavor, server: ModelServer, repo: Path) -> None:
    server.replies = [Reply(500, SERVER_ERROR), Reply(body=flavor.answer(GOOD_ANSWER, ""))]
    proposal = ask(make_agent(flavor, server, repo), repo)
    assert proposal.description == "Raise the learning rate to 0.03"
    assert len(server.requests) == 2


def test_a_persistent_server_error_is_an_agent_error_after_the_retries(
    flavor: Flavor, server: ModelServer, repo: Path
) -> None:
    server.replies = [Reply(500, SERVER_ERROR)]
    with pytest.raises(AgentError, match=r"answered HTTP 500 \(4 tries\): .*overloaded"):
        ask(make_agent(flavor, server, repo), repo)
    assert len(server.requests) == 4


def test_a_server_speaking_something_else_is_an_agent_error(
    flavor: Flavor, server: ModelServer, repo: Path
) -> None:
    server.replies = [Reply(body="<html>Welcome to nginx!</html>")]
    with pytest.raises(AgentError, match="sent something that is not a"):
        ask(make_agent(flavor, server, repo), repo)
    assert (repo / "train.py").read_text() == TRAIN


def test_a_refused_key_is_not_retried(flavor: Flavor, server: ModelServer, repo: Path) -> None:
    server.replies = [Reply(401, {"error": {"type": "auth", "message": "invalid api key"}})]
    with pytest.raises(AgentError, match="answered HTTP 401: .*invalid api key"):
        ask(make_agent(flavor, server, repo), repo)
    assert len(server.requests) == 1


def test_an_unreachable_endpoint_is_an_agent_error(flavor: Flavor, repo: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    setup = make_setup(
        repo, model="m", api_key="k", base_url=f"http://127.0.0.1:{closed_port}", timeout=2
    )
    with pytest.raises(AgentError, match="cannot reach"):
        ask(flavor.agent_class(setup, max_retries=0), repo)


def sent_credentials(sent: dict[str, Any]) -> tuple[str | None, str | None]:
    return sent["headers"].get("x-api-key"), sent["headers"].get("authorization")


@pytest.mark.parametrize("key", ["env-key", None])
def test_model_endpoint_and_key_come_from_the_environment(
    flavor: Flavor,
    server: ModelServer,
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str | None,
) -> None:
    monkeypatch.setenv(f"{flavor.env_prefix}_MODEL", "env-model")
    monkeypatch.setenv(f"{flavor.env_prefix}_BASE_URL", server.url + flavor.url_suffix)
    if key:
        monkeypatch.setenv(f"{flavor.env_prefix}_API_KEY", key)
    script(server, flavor, GOOD_ANSWER)
    build_agent(flavor.name, make_setup(repo)).propose(request_for(repo))
    [sent] = server.requests
    assert sent["body"]["model"] == "env-model"
    if key:
        assert key in sent_credentials(sent) or f"Bearer {key}" in sent_credentials(sent)


def test_an_anthropic_auth_token_is_sent_as_a_bearer_token(
    server: ModelServer, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "token-1")
    flavor = FLAVORS["anthropic"]
    script(server, flavor, GOOD_ANSWER)
    setup = make_setup(repo, model="m", base_url=server.url)
    AnthropicAgent(setup).propose(request_for(repo))
    assert sent_credentials(server.requests[0])[1] == "Bearer token-1"


def test_a_missing_model_is_a_user_error(flavor: Flavor, repo: Path) -> None:
    with pytest.raises(UserError, match=f"set {flavor.env_prefix}_MODEL"):
        flavor.agent_class(make_setup(repo, api_key="k"))


def test_a_missing_key_for_the_hosted_api_is_a_user_error(flavor: Flavor, repo: Path) -> None:
    with pytest.raises(UserError, match=f"set {flavor.env_prefix}_API_KEY"):
        flavor.agent_class(make_setup(repo, model="m"))


def test_a_missing_sdk_says_how_to_install_it(
    flavor: Flavor, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, flavor.name, None)
    with pytest.raises(UserError, match=rf"pip install 'autoresearch\[{flavor.name}\]'"):
        flavor.agent_class(make_setup(repo, model="m", api_key="k"))
