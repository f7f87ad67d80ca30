"""What a solve strategy is: the prompt it builds and the attempts it asks the loop to make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from agent.models.base import ModelTurn
from agent.parts import Message
from agent.prompts import system_prompt


@dataclass(frozen=True)
class Prompt:
    """What the model is shown. The first `shared` messages of `history` are the same in every
    solve (worked examples): a backend may keep their state between calls."""

    system: str
    history: list[Message] = field(default_factory=list)
    shared: int = 0


@dataclass(frozen=True)
class Attempt:
    """One model call of a step. `prefill`: the answer starts with this text and the model
    continues it (backends that `supports_prefill`). The call decodes at the solve's temperature,
    or at `min_temperature` if that is higher, with `seed`. `stream`: its text is shown as it
    arrives (a retry that may be thrown away is not)."""

    prefill: str = ""
    min_temperature: float = 0.0
    seed: int | None = None
    stream: bool = True


@runtime_checkable
class Strategy(Protocol):
    def prompt(
        self,
        history: list[Message],
        *,
        code_execution: bool,
        files: Sequence[str] = (),
        instruction: str = "",
    ) -> Prompt:
        """The prompt of the next model call, for this conversation and these input files."""
        ...

    def first_attempt(self, history: list[Message], *, code_execution: bool) -> Attempt:
        """The first model call of the step that continues `history`."""
        ...

    def next_attempt(
        self, history: list[Message], tried: list[ModelTurn], *, code_execution: bool
    ) -> Attempt | None:
        """Another call of the same step after the `tried` ones, or None: the last one stands."""
        ...


class NativeTools:
    """The conversation as it is, with the files note in the system prompt; one call per step.
    For backends that run code through a native tool, and for scripted and function models."""

    def prompt(
        self,
        history: list[Message],
        *,
        code_execution: bool,
        files: Sequence[str] = (),
        instruction: str = "",
    ) -> Prompt:
        return Prompt(system_prompt(code_execution, list(files), instruction), list(history))

    def first_attempt(self, history: list[Message], *, code_execution: bool) -> Attempt:
        return Attempt()

    def next_attempt(
        self, history: list[Message], tried: list[ModelTurn], *, code_execution: bool
    ) -> Attempt | None:
        return None
