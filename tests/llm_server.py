"""A scripted OpenAI-compatible LLM on a real loopback socket, standing in for a remote one.

POST /v1/chat/completions answers from `LLMServer.script` (a `Reply`, or a function of the
request body returning one): streamed as server-sent events when the request asks to stream,
else one JSON completion. Each request is recorded (body and headers) so tests can check
what was sent, or that nothing was.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["LLMServer", "Reply", "llm_server", "passage_number", "prompt_of"]


@dataclass
class Reply:
    """What the server sends back for one request."""

    chunks: list[str] = field(default_factory=lambda: ["Nothing to say."])
    status: int = 200
    delay_s: float = 0.0  # before every chunk
    first_delay_s: float = 0.0  # before the response starts
    cut_off: bool = False  # close the stream mid-way: no finish_reason, no [DONE]
    malformed: bool = False  # a chunk that is not JSON
    finish_reason: str = "stop"


Script = Reply | Callable[[dict[str, Any]], Reply]


@dataclass
class Request:
    body: dict[str, Any]
    headers: dict[str, str]


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up (a timeout test) is expected here


class LLMServer:
    def __init__(self) -> None:
        self.script: Script = Reply()
        self.requests: list[Request] = []
        self._server = _Quiet(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply_for(self, body: dict[str, Any]) -> Reply:
        return self.script(body) if callable(self.script) else self.script

    @property
    def streamed(self) -> list[Request]:
        return [r for r in self.requests if r.body.get("stream")]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(
                    Request(body, {k.lower(): v for k, v in self.headers.items()})
                )
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                reply = server.reply_for(body)
                time.sleep(reply.first_delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": "scripted failure"}})
                elif body.get("stream"):
                    self._stream(reply, body.get("model", "m"))
                else:
                    self._send(200, _completion("".join(reply.chunks), body.get("model", "m")))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, reply: Reply, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                events = [_chunk(c, model, None) for c in reply.chunks]
                cut = len(events) // 2 if reply.cut_off else None
                try:
                    for i, event in enumerate(events):
                        if i == cut:
                            # Drop the connection mid-body: no last chunk, no [DONE].
                            self.wfile.flush()
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        time.sleep(reply.delay_s)
                        if reply.malformed and i == len(events) // 2:
                            self._event("{not json")
                        self._event(json.dumps(event))
                    self._event(json.dumps(_chunk("", model, reply.finish_reason)))
                    self._event("[DONE]")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _event(self, data: str) -> None:
                payload = f"data: {data}\n\n".encode()
                self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                self.wfile.flush()

        return Handler


def _chunk(text: str, model: str, finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": text} if text else {},
                "finish_reason": finish,
            }
        ],
    }


def _completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def prompt_of(body: dict[str, Any]) -> str:
    """The user message of a chat request (the numbered passages and the question)."""
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def passage_number(body: dict[str, Any], words: str) -> int:
    """The [n] of the first passage in the prompt that contains `words` (case-insensitive)."""
    prompt = prompt_of(body)
    blocks = prompt.split("\n\n[")
    for block in blocks:
        head, _, text = block.partition("]")
        if head.lstrip("[").isdigit() and words.lower() in " ".join(text.split()).lower():
            return int(head.lstrip("["))
    raise AssertionError(f"no passage in the prompt contains {words!r}")


@contextmanager
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer().start()
    try:
        yield server
    finally:
        server.stop()
