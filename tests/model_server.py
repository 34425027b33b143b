"""A local HTTP server standing in for a model API: it answers POSTs from a script and records
every request it gets, for the model-API agents' tests and the loop's."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted HTTP answer."""

    status: int = 200
    body: dict[str, Any] | str = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class ModelServer:
    """A local server answering POSTs from a script; it records every request it gets."""

    url: str
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def next_reply(self) -> Reply:
        # The last scripted reply repeats, so "always 500" is one entry.
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {name.lower(): value for name, value in self.headers.items()}
            server.requests.append({"path": self.path, "headers": headers, "body": body})
            reply = server.next_reply()
            if reply.delay:
                server.stop.wait(reply.delay)
            is_json = isinstance(reply.body, dict)
            payload = (json.dumps(reply.body) if is_json else str(reply.body)).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json" if is_json else "text/html")
                self.send_header("Content-Length", str(len(payload)))
                # Keeps the SDKs' retry backoff short without changing what they retry.
                self.send_header("retry-after-ms", "5")
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting, which is what a slow reply is for

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serving() -> Iterator[ModelServer]:
    """A server on 127.0.0.1, on a free port, for as long as the block lasts."""
    model_server = ModelServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(model_server))
    httpd.daemon_threads = True
    model_server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    # A short poll interval keeps shutdown, and so each test, fast.
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield model_server
    finally:
        model_server.stop.set()
        httpd.shutdown()
        httpd.server_close()


def openai_answer(text: str, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "served-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
    }
