"""The one abstraction every backend implements: given the conversation so far, produce a turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agent.parts import FunctionCallPart, Message
from agent.usage import CallUsage


class ModelError(RuntimeError):
    """A backend failed in a way the user should see (bad key, unreachable server, bad output)."""


class MissingKeyError(ModelError):
    """The backend needs an API key that is not set (the message names the variable)."""


class BadModelSpecError(ModelError, ValueError):
    """The model spec is not one we know (or names a file that does not exist)."""


class GenerateOptions(BaseModel):
    temperature: float = 0.0
    max_output_tokens: int = 1024
    timeout_s: float = 120.0
    seed: int | None = None  # for sampled generations (temperature > 0) that must differ
    # user-declared functions (Gemini `functionDeclarations` JSON), passed through to the model
    function_declarations: list[dict[str, Any]] = Field(default_factory=list)
    # Set by the solve strategy (agent/strategies/). The answer starts with `prefill`, which the
    # model continues (only backends with `supports_prefill = True` are given one); the first
    # `shared_prefix` messages of the history are the same in every solve (a backend may cache).
    prefill: str = ""
    shared_prefix: int = 0


class ModelTurn(BaseModel):
    """One model call's result.

    `text` is the prose the model wrote (before its code, or its whole answer). `code` is the
    Python it asked to run, if any: a backend stops generating as soon as one code block (fenced
    block closed, or native tool call) is complete, so the model never invents its output.
    """

    text: str = ""
    code: str | None = None
    function_calls: list[FunctionCallPart] = Field(default_factory=list)
    usage: CallUsage = Field(default_factory=CallUsage)
    finish_reason: str = "STOP"  # STOP | MAX_TOKENS | CODE


TextSink = Callable[[str], None]


@runtime_checkable
class Model(Protocol):
    spec: str  # e.g. "local", "openai:gpt-4o-mini"

    def generate(
        self,
        system: str,
        history: list[Message],
        *,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None = None,
    ) -> ModelTurn:
        """Continue the conversation. `on_text` receives the prose as it streams, if given."""
        ...
