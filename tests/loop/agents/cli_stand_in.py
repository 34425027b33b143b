"""Stands in for claude, codex and aider, picked by the name it is run as.

It records what it was given to $STAND_IN_RECORD, edits train.py in its working directory, and
prints what the real program prints; $STAND_IN_MODE picks a behaviour: ok, no-description,
denied, is-error (exit code from $STAND_IN_EXIT), fail, hang, stdin, turn-failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

RECORDED_ENV = (
    "AUTORESEARCH_PROMPT",
    "AUTORESEARCH_DESCRIPTION",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "OPENAI_API_BASE",
    "OPENAI_API_KEY",
)


def main() -> int:
    program = Path(sys.argv[0]).name
    mode = os.environ.get("STAND_IN_MODE", "ok")
    record: dict[str, object] = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "stdin_source": os.path.realpath("/proc/self/fd/0"),
        "env": {key: os.environ.get(key) for key in RECORDED_ENV},
    }
    if mode == "stdin":
        record["stdin"] = sys.stdin.read()
    if mode == "hang":
        record["child_pid"] = subprocess.Popen(["sleep", "600"]).pid
    Path(os.environ["STAND_IN_RECORD"]).write_text(json.dumps(record))
    if mode == "hang":
        time.sleep(600)  # what only a kill ends within a test
    if mode == "fail":
        print("starting", flush=True)
        print("warning: retrying\nError: invalid API key", file=sys.stderr)
        return 1
    if mode not in ("denied", "is-error", "turn-failed"):
        Path("train.py").write_text("lr = 0.02\n")
    if mode == "ok" and program in ("claude", "codex"):
        Path(os.environ["AUTORESEARCH_DESCRIPTION"]).write_text("raise the learning rate\nmore\n")
    return {"claude": claude, "codex": codex, "aider": aider}[program](mode)


def claude(mode: str) -> int:
    result: dict[str, object] = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "\n\nDoubled the learning rate.\nIt should converge faster.",
        "num_turns": 4,
        "session_id": "s-1",
        "total_cost_usd": 0.0123,
        "usage": {"input_tokens": 1200, "output_tokens": 300, "cache_read_input_tokens": 50},
        "permission_denials": [],
    }
    if mode == "denied":
        result["permission_denials"] = [
            {"tool_name": "Write", "tool_use_id": "t1", "tool_input": {"file_path": "train.py"}}
        ]
    if mode == "is-error":
        result.update(is_error=True, result="API Error: 401 invalid x-api-key")
    print(json.dumps(result))
    return int(os.environ.get("STAND_IN_EXIT", "0"))


def codex(mode: str) -> int:
    message = {"id": "i1", "type": "agent_message", "text": "Switched to cosine decay.\nDone."}
    usage = {"input_tokens": 900, "cached_input_tokens": 400, "output_tokens": 60}
    events: list[dict[str, object]] = [
        {"type": "thread.started", "thread_id": "t-1"},
        {"type": "turn.started"},
        {"type": "item.completed", "item": {"id": "i0", "type": "reasoning", "text": "hm"}},
        {"type": "item.completed", "item": message},
        {"type": "turn.completed", "usage": usage},
    ]
    if mode == "turn-failed":
        events[-1] = {"type": "turn.failed", "error": {"message": "stream disconnected"}}
    print("2026-11-25T10:00:00 WARN not an event")
    for event in events:
        print(json.dumps(event))
    return 0


def aider(mode: str) -> int:
    chat = Path(sys.argv[sys.argv.index("--chat-history-file") + 1])
    chat.write_text(
        "\n# aider chat started at 2026-11-25 10:00:00\n\n> aider --message ...\n\n"
        "#### Lower the loss.  \n#### \n#### Begin your reply with one line.\n\n"
        "Use a smaller batch size.\n\ntrain.py\n```python\n<<<<<<< SEARCH\n"
    )
    print("Aider v0.86.1\nModel: openai/test with diff edit format")
    print(
        "Tokens: 2.3k sent, 1.1k cache hit, 120 received. Cost: $0.0045 message, $0.0045 session."
    )
    print("Applied edit to train.py")
    print("Tokens: 3.0k sent, 80 received. Cost: $0.0031 message, $0.0076 session.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
