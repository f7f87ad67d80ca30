"""Run the HTTP server in a background thread on a free loopback port (tests, benchmarks, embedding)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from agent.server.config import ServerConfig
from agent.server.http import create_app
from agent.server.serve import uvicorn_options


class BackgroundServer:
    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]
        options = uvicorn_options(getattr(app.state, "config", None) or ServerConfig())
        scheme = "https" if options.get("ssl_certfile") else "http"
        self.url = f"{scheme}://{host}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5, **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self, timeout_s: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()


@contextmanager
def serve_in_thread(config: ServerConfig | None = None) -> Iterator[BackgroundServer]:
    server = BackgroundServer(create_app(config or ServerConfig()))
    server.start()
    try:
        yield server
    finally:
        server.stop()
