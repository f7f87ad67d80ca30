"""Solve strategies: how a model is prompted and how each step's model calls are made.

A strategy is kept apart from the provider that runs the model (agent/models/): the provider
only translates messages and streams; the strategy decides what the model sees (system prompt,
worked examples, where the files note goes) and the attempts of a step (how an answer starts,
when to try again). The loop (agent/loop.py) makes every attempt itself, so each model call is
counted, streamed and stopped by the time budget like any other.

- `NativeTools`: the question as it is, one call per step (tool-calling backends, tests).
- `TextProtocol`: code as fenced ```python text after worked examples, with a ```python
  prefill where code is due and retries after a failed run (the embedded model).
"""

from __future__ import annotations

from typing import Any

from agent.strategies.base import Attempt, NativeTools, Prompt, Strategy
from agent.strategies.text_protocol import TextProtocol, must_write_code

__all__ = [
    "Attempt",
    "NativeTools",
    "Prompt",
    "Strategy",
    "TextProtocol",
    "must_write_code",
    "strategy_for",
]


def strategy_for(model: Any) -> Strategy:
    """The strategy a model asks for (its `default_strategy()`), else `NativeTools`."""
    make = getattr(model, "default_strategy", None)
    strategy: Strategy = make() if callable(make) else NativeTools()
    return strategy
