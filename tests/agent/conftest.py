from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture
def script():
    """Path of a scripted-model fixture under tests/agent/scripts/."""

    def path(name: str) -> str:
        return f"scripted:{SCRIPTS / name}"

    return path


@pytest.fixture
def make_script(tmp_path):
    """Write turns to a JSON file; returns the model spec."""

    def make(turns: list[dict[str, Any]], name: str = "script.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps({"turns": turns}))
        return f"scripted:{path}"

    return make


@pytest.fixture
def sandboxes(monkeypatch):
    """Every sandbox the loop opens in this test, in order (to check it was closed)."""
    import agent.execute

    opened: list[Any] = []
    real_open = agent.execute.open_sandbox

    def tracking_open(limits, inputs, given=None):
        sb = real_open(limits, inputs, given)
        opened.append(sb)
        return sb

    monkeypatch.setattr(agent.execute, "open_sandbox", tracking_open)
    return opened
