"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for tests (chat completions, tool calls, streaming,
faults).

Tests enqueue what the next requests get; every request body is recorded in ``calls``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def _completion(content: str, model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def _tool_completion(name: str, arguments: Any, model: str) -> dict[str, Any]:
    """A completion that is only a tool call; ``arguments`` is sent as given when it is a string (so a test
    can script broken JSON), else as JSON."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": raw}}
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def _chunk(delta: dict[str, Any], model: str, finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


class FakeOpenAI:
    def __init__(self) -> None:
        self.script: deque[dict[str, Any]] = deque()
        self.calls: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.calls.append(body)
                step = fake.script.popleft() if fake.script else {"kind": "text", "content": "ok"}
                fake.respond(self, step, body)

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that time out and hang up are part of the script

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def enqueue(self, **step: Any) -> None:
        self.script.append(step)

    def respond(self, h: BaseHTTPRequestHandler, step: dict[str, Any], body: dict[str, Any]) -> None:
        model = body.get("model", "test-model")
        kind = step["kind"]
        if kind == "sleep":
            time.sleep(step["seconds"])
            kind = "text"
        if kind == "status":
            payload = json.dumps({"error": {"message": "scripted failure", "type": "test"}}).encode()
            h.send_response(step["code"])
            for key, value in step.get("headers", {}).items():
                h.send_header(key, value)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if kind == "malformed":
            payload = b"{not json"
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if body.get("stream"):
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.end_headers()
            pieces = step.get("chunks") or [step.get("content", "")]
            h.wfile.write(_chunk({"role": "assistant", "content": ""}, model))
            for piece in pieces:
                time.sleep(step.get("delay", 0.0))  # seconds before each piece, to watch a page stream
                h.wfile.write(_chunk({"content": piece}, model))
                h.wfile.flush()
            if kind == "stream_cut":
                h.wfile.write(b"data: {\"id\": \"chatcmpl-test\", \"choi")  # cut mid-event
                h.wfile.flush()
                h.close_connection = True
                return
            h.wfile.write(_chunk({}, model, "stop"))
            h.wfile.write(b"data: [DONE]\n\n")
            return
        if kind == "tool_call":
            completion = _tool_completion(step.get("name", "refund_order"), step.get("arguments", "{"), model)
        else:
            completion = _completion(step.get("content", ""), model)
        payload = json.dumps(completion).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
