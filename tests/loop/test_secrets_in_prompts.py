"""No secret reaches a prompt: the loop with a real model-API agent against a local server
standing in for it, and with the stand-in agent, while credentials are set in the tool's
environment and a run prints its environment and crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_server import Reply, openai_answer, serving
from support import Cli, git, ledger_rows, session_flags, stand_in_agent

from autoresearch.loop.prompt import MAX_PROMPT_CHARS, PromptInputs, build_prompt
from autoresearch.store.ledger import Ledger, Row

SECRETS = {
    # The openai agent's own key, taken from the environment as a user would set it.
    "OPENAI_API_KEY": "sk-openai-5cret-0f-the-t00l",
    "ANTHROPIC_API_KEY": "sk-ant-5cret-0f-the-t00l",
    "AWS_SECRET_ACCESS_KEY": "aws/5cret+0f+the+t00l",
    "GITHUB_TOKEN": "ghp_5cret0fthet00l",
}
# Handed to the run on purpose (--pass-env): the run prints it, the prompt must not.
PASSED = ("HF_TOKEN", "hf_passed-0n-purp0se")

TRAIN = """\
import os, sys
CRASH = 0
VALUE = 1.0
if CRASH:
    for name, value in sorted(os.environ.items()):
        print(f"{name}={value}")
    sys.exit("crashed after printing the environment")
print(f"val_bpb: {VALUE}")
"""


def edit(description: str, search: str, replace: str) -> str:
    """A model's answer: the description, then one SEARCH/REPLACE block on train.py."""
    block = f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"
    return f"{description}\n```python\ntrain.py\n{block}\n```\n"


@pytest.fixture
def project(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in (*SECRETS.items(), PASSED):
        monkeypatch.setenv(name, value)
    (repo / "train.py").write_text(TRAIN)
    git(repo, "commit", "-qam", "a run that can print its environment")
    return repo


def test_the_fix_prompt_sent_to_a_model_holds_no_secret(project: Path, cli: Cli) -> None:
    crash = edit("Print the environment", "CRASH = 0", "CRASH = 1")
    fix = edit("Stop printing it", "CRASH = 1\nVALUE = 1.0", "CRASH = 0\nVALUE = 0.9")
    flags = session_flags(protect=()) + ["--noise", "off", "--pass-env", PASSED[0]]
    with serving() as server:
        server.replies = [Reply(body=openai_answer(crash)), Reply(body=openai_answer(fix))]
        result = cli(
            "loop",
            *flags,
            "--agent",
            "openai",
            "--base-url",
            server.url + "/v1",
            "--model",
            "stand-in-model",
            "--max-experiments",
            "2",
            "--max-fix-attempts",
            "1",
        )
    assert result.returncode == 0, result.stderr
    assert [row["status"] for row in ledger_rows(project)] == ["keep", "crash", "keep"]
    # The run did print the passed variable: the archived crash log holds it.
    logs = "".join(p.read_text() for p in (project / ".autoresearch/t/logs").iterdir())
    assert f"{PASSED[0]}={PASSED[1]}" in logs
    assert len(server.requests) == 2
    bodies = [json.dumps(request["body"]) for request in server.requests]
    fix_prompt = server.requests[1]["body"]["messages"][-1]["content"]
    assert "fix a crash" in fix_prompt and "crashed after printing the environment" in fix_prompt
    assert f"{PASSED[0]}=[masked {PASSED[0]}]" in fix_prompt
    for value in (*SECRETS.values(), PASSED[1]):
        assert all(value not in body for body in bodies)
    # The prompts kept on disk are the ones sent.
    for path in (project / ".autoresearch/t/prompts").iterdir():
        assert PASSED[1] not in path.read_text()


def test_a_secret_an_agent_prints_as_its_description_reaches_no_later_prompt(
    project: Path, cli: Cli, tmp_path: Path
) -> None:
    # An agent has the tool's whole environment, so its words may hold a secret; they become
    # the experiment's description, which every later prompt lists.
    leaked = f"tried it with {SECRETS['GITHUB_TOKEN']}"
    agent = stand_in_agent(tmp_path / "agent", [{"VALUE": 0.9, "say": leaked}, {"VALUE": 0.8}])
    flags = session_flags(protect=()) + ["--noise", "off"]
    result = cli(
        "loop", *flags, "--agent", "command", "--agent-cmd", agent, "--max-experiments", "2"
    )
    assert result.returncode == 0, result.stderr
    assert ledger_rows(project)[1]["description"] == "tried it with [masked GITHUB_TOKEN]"
    second = (tmp_path / "agent" / "prompt-1.md").read_text()
    assert "tried it with [masked GITHUB_TOKEN]" in second
    assert SECRETS["GITHUB_TOKEN"] not in second + result.stdout


def fix_prompt(tail: str, environ: dict[str, str]) -> str:
    """The prompt of a fix attempt whose crash left one line of log, ``tail``."""
    ledger = Ledger(["commit", "val_bpb", "status", "description"], [], [], 0)
    crash = Row(1, "abc1234", 0.0, "crash", "a long line", {})
    return build_prompt(
        PromptInputs(
            program="Lower val_bpb.",
            metric="val_bpb",
            direction="minimize",
            run_command="python train.py",
            budget=None,
            scope=["train.py"],
            protected=[],
            ledger=ledger,
            keep_commit="abc1234",
            crash=crash,
            crash_tail=(tail,),
            environ=environ,
        )
    )


def test_a_prompt_is_masked_before_it_is_cut_to_its_size_limit() -> None:
    secret = "s3cret-value-of-the-t00l"
    filler = "y" * (2 * MAX_PROMPT_CHARS)
    # Where the cut falls in the tail, found with a prompt that has no secret in it.
    start = fix_prompt(filler, {}).index("y" * 100)
    at = MAX_PROMPT_CHARS - 40 - start - len(secret) // 2
    text = fix_prompt(filler[:at] + secret + filler[at:], {"SERVICE_TOKEN": secret})
    assert secret[:6] not in text and "[masked SERV" in text
