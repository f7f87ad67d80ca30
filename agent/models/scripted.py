"""Replays canned model turns from a JSON file: the unit tests' workhorse, and for demos.

File: {"turns": [{"text": "...", "code": "print(1)" | null, "function_calls": [{"name": ..,
"args": {}}], "usage": {"prompt_tokens": 10, "output_tokens": 5}, "delay_s": 0}]} or a bare list.
`{question}` in text/code is replaced by the first user message's text.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from agent.models import cancel
from agent.models.base import BadModelSpecError, GenerateOptions, ModelError, ModelTurn, TextSink
from agent.parts import (
    CodePart,
    FunctionCallPart,
    ImagePart,
    Message,
    ResultPart,
    TextPart,
)
from agent.usage import CallUsage


class ScriptedModel:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.spec = f"scripted:{path}"
        self.turns = load_script(self.path)
        self.calls: list[dict[str, Any]] = []  # what each call got: for tests
        self._next = 0
        self._lock = threading.Lock()

    def generate(
        self,
        system: str,
        history: list[Message],
        *,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None = None,
    ) -> ModelTurn:
        with self._lock:
            index = self._next
            self._next += 1
            self.calls.append(
                {
                    "system": system,
                    "history": [m.model_copy(deep=True) for m in history],
                    "code_execution": code_execution,
                    "options": options,
                }
            )
        if index >= len(self.turns):
            raise ModelError(f"scripted model {self.path.name}: out of turns after {index} calls")
        turn = self.turns[index]
        if turn.get("error"):
            raise ModelError(str(turn["error"]))
        delay = float(turn.get("delay_s") or 0)
        if delay:  # as a real model would, it stops early when its call is cancelled
            event = cancel.current()
            if event is None:
                time.sleep(delay)
            elif event.wait(delay):
                raise cancel.Cancelled()
        question = next((m.text() for m in history if m.role == "user"), "")
        text = str(turn.get("text") or "").replace("{question}", question)
        code = turn.get("code")
        if code is not None:
            code = str(code).replace("{question}", question)
        if on_text and text:
            for chunk in _chunks(text):
                on_text(chunk)
        calls = [FunctionCallPart(**c) for c in turn.get("function_calls") or []]
        usage = turn.get("usage")
        if usage is None:
            rendered = render_plain(system, history)
            usage = {
                "prompt_tokens": len(rendered) // 4,
                "output_tokens": len(text + (code or "")) // 4,
            }
        return ModelTurn(
            text=text,
            code=code,
            function_calls=calls,
            usage=CallUsage(**usage),
            finish_reason=turn.get("finish_reason") or ("CODE" if code is not None else "STOP"),
        )


def load_script(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise BadModelSpecError(f"scripted model: file not found: {path}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise BadModelSpecError(f"scripted model: cannot read {path}: {exc}") from exc
    turns = data.get("turns") if isinstance(data, dict) else data
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        raise BadModelSpecError(
            f"scripted model: {path} must hold a list of turns (or {{'turns': [...]}})"
        )
    return turns


def render_plain(system: str, history: list[Message]) -> str:
    """A plain-text rendering of the conversation, for approximate token counts."""
    out = [system]
    for message in history:
        for part in message.parts:
            if isinstance(part, TextPart):
                out.append(part.text)
            elif isinstance(part, CodePart):
                out.append(f"```python\n{part.code}\n```")
            elif isinstance(part, ResultPart):
                out.append(f"```output\n{part.output}\n```")
            elif isinstance(part, ImagePart):
                out.append("[image]")
    return "\n".join(out)


def _chunks(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
