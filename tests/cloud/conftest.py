"""A fake cloud API on loopback: the SDKs' real HTTP stack talks to it over a real socket.

google-genai and anthropic now send through `httpx2`, which respx cannot patch, so instead of
mocking the transport we point the SDKs' `base_url` at this server. It records every request
(method, path with query, headers, JSON body) and answers from a script of replies.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeCloud:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                with cloud._lock:
                    cloud.requests.append(
                        Recorded(
                            "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    reply = cloud._replies.popleft() if cloud._replies else None
                if reply is None:  # unscripted: a non-retryable error so a test fails fast
                    reply = Reply(418, b'{"error": {"message": "no scripted reply"}}')
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def reply_json(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self._replies.append(Reply(status, json.dumps(body).encode(), headers=headers or {}))

    def reply_raw(
        self, body: str, status: int = 200, content_type: str = "application/json"
    ) -> None:
        self._replies.append(Reply(status, body.encode(), content_type))

    def reply_sse(self, events: list[tuple[str | None, Any]]) -> None:
        """Server-sent events: (event name or None, data object)."""
        chunks = []
        for name, data in events:
            head = f"event: {name}\n" if name else ""
            chunks.append(f"{head}data: {json.dumps(data)}\n\n")
        self._replies.append(Reply(200, "".join(chunks).encode(), "text/event-stream"))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def cloud() -> Iterator[FakeCloud]:
    fake = FakeCloud()
    yield fake
    fake.close()


@pytest.fixture
def fixture_json():
    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    return load


def anthropic_sse(message: dict[str, Any]) -> list[tuple[str | None, Any]]:
    """A recorded-style Messages response as the event stream the API sends when streaming."""
    start = message | {"content": [], "stop_reason": None, "stop_sequence": None}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            empty, delta = (
                {"type": "text", "text": ""},
                {"type": "text_delta", "text": block["text"]},
            )
        else:
            empty = block | {"input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            ),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": index}),
        ]
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    usage = {"output_tokens": message["usage"]["output_tokens"]}
    events += [
        ("message_delta", {"type": "message_delta", "delta": stop, "usage": usage}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events
