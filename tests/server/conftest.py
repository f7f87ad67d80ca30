"""Fixtures: the real HTTP server in a background thread, scripted model files, model capture,
the sandboxes a test's runs open."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types

import agent.server.http as http_module
import sandbox
from agent.server.background import BackgroundServer
from agent.server.config import OPERATOR_CREDENTIALS, ServerConfig
from agent.server.http import create_app

StartServer = Callable[..., BackgroundServer]


@pytest.fixture(autouse=True)
def _no_operator_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's model keys would make every server aliases-only: tests set them explicitly."""
    for name in OPERATOR_CREDENTIALS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """start_server(**ServerConfig fields) -> a running server; all are stopped after the test."""
    servers: list[BackgroundServer] = []

    def start(**config: Any) -> BackgroundServer:
        server = BackgroundServer(create_app(ServerConfig(**{"allow_scripted": True, **config})))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def script(tmp_path: Path) -> Callable[[list[dict[str, Any]]], str]:
    """script(turns) -> the model SPEC of a scripted backend replaying those turns."""
    count = 0

    def make(turns: list[dict[str, Any]]) -> str:
        nonlocal count
        count += 1
        path = tmp_path / f"script_{count}.json"
        path.write_text(json.dumps({"turns": turns}))
        return f"scripted:{path}"

    return make


@pytest.fixture
def created_models(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every model object the server builds, so tests can see what the model was given."""
    made: list[Any] = []
    real = http_module.get_model

    def recording_get_model(spec: str) -> Any:
        model = real(spec)
        made.append(model)
        return model

    monkeypatch.setattr(http_module, "get_model", recording_get_model)
    return made


@pytest.fixture
def client_for() -> Callable[..., genai.Client]:
    """client_for(url, api_key="k") -> the official google-genai client pointed at our server."""

    def make(url: str, api_key: str = "k") -> genai.Client:
        return genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=url))

    return make


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[sandbox.Sandbox, set[int]]]:
    """Every Sandbox the agent opens, with the session process ids its runs used."""
    opened: list[tuple[sandbox.Sandbox, set[int]]] = []

    class RecordingSandbox(sandbox.Sandbox):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.pids: set[int] = set()
            opened.append((self, self.pids))

        def run(self, code: str, timeout_s: float | None = None) -> Any:
            result = super().run(code, timeout_s)
            proc = getattr(getattr(self, "_state", None), "proc", None)
            if proc is not None:
                self.pids.add(proc.pid)
            return result

    monkeypatch.setattr(sandbox, "Sandbox", RecordingSandbox)
    return opened
