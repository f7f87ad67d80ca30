"""Solve strategies: how a model is prompted and how each step's model calls are made.

A strategy is kept apart from the provider that runs the model (agent/models/): the provider
only translates messages and streams; the strategy decides what the model sees (system prompt,
worked examples, where the files note goes) and the attempts of a step (how an answer starts,
when to try again). The loop (agent/loop.py) makes every attempt itself, so each model call is
counted, streamed and stopped by the time budget like any other.

- `NativeTools`: the question as it is, one call per step (tool-calling backends, tests).
- `TextProtocol`: code as fenced ```python text after worked examples, with a ```python
  prefill where code is due and retries after a failed run (the embedded model).
- `SolveFirst`: the text protocol, the problem solved in words before the code.
- `SolveFirstZeroShot`: solve first without the worked examples.
- `Auto`: solve first, zero-shot for questions in prose, with the examples for questions that
  carry data (the local models' default).

`STRATEGIES` names the text strategies for `--strategy`; a new strategy is one module here and
one line there.
"""

from __future__ import annotations

from typing import Any

from agent.strategies.auto import Auto, carries_data
from agent.strategies.base import Attempt, NativeTools, Prompt, Strategy
from agent.strategies.solve_first import SolveFirst
from agent.strategies.solve_first_zero_shot import SolveFirstZeroShot
from agent.strategies.text_protocol import TextProtocol, must_write_code

__all__ = [
    "Attempt",
    "Auto",
    "NativeTools",
    "Prompt",
    "STRATEGIES",
    "SolveFirst",
    "SolveFirstZeroShot",
    "Strategy",
    "TextProtocol",
    "carries_data",
    "must_write_code",
    "named_strategy",
    "strategy_for",
]

STRATEGIES: dict[str, type[TextProtocol]] = {
    "auto": Auto,
    "code-first": TextProtocol,
    "solve-first": SolveFirst,
    "solve-first-zero-shot": SolveFirstZeroShot,
}


def strategy_for(model: Any) -> Strategy:
    """The strategy a model asks for (its `default_strategy()`), else `NativeTools`."""
    make = getattr(model, "default_strategy", None)
    strategy: Strategy = make() if callable(make) else NativeTools()
    return strategy


def named_strategy(name: str, model: Any) -> Strategy:
    """The text strategy `name` (a key of STRATEGIES), set up as `model` can take it: its worked
    examples if it has them, a prefill only if it supports one."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    few_shot = bool(getattr(model, "few_shot", True))
    prefill = bool(getattr(model, "supports_prefill", False)) and getattr(model, "prefill", True)
    return STRATEGIES[name](few_shot=few_shot, prefill=prefill)
