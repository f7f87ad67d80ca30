"""Model registry: a spec string -> a new backend object (backends are imported lazily)."""

from __future__ import annotations

import os

from agent.models.base import (
    BadModelSpecError,
    GenerateOptions,
    MissingKeyError,
    Model,
    ModelError,
    ModelTurn,
)

__all__ = [
    "BadModelSpecError",
    "GenerateOptions",
    "MissingKeyError",
    "Model",
    "ModelError",
    "ModelTurn",
    "get_model",
    "VALID_SPECS",
]

VALID_SPECS = (
    "local, local:1.5b, local:0.5b, openai:MODEL, gemini:MODEL, anthropic:MODEL, scripted:PATH"
)
LOCAL_SIZES = ("1.5b", "0.5b")


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def get_model(spec: str) -> Model:
    """A new Model for `spec`; BadModelSpecError / MissingKeyError (both ModelError) if unusable."""
    spec = (spec or "").strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind == "local":
        size = (arg or "1.5b").lower()
        if size not in LOCAL_SIZES:
            raise BadModelSpecError(
                f"unknown local model size {arg!r}; use local:1.5b or local:0.5b"
            )
        from agent.models.local import LocalModel

        return LocalModel(size)
    if kind == "scripted" and arg:
        from agent.models.scripted import ScriptedModel

        return ScriptedModel(arg)
    if kind == "openai" and arg:
        base_url = _env("OPENAI_BASE_URL")
        api_key = _env("OPENAI_API_KEY")
        if api_key is None:
            if base_url is None:
                raise MissingKeyError(
                    "openai: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server such as "
                    "vLLM, Ollama or llama.cpp, which needs no key)"
                )
            api_key = "not-needed"
        from agent.models.openai_backend import OpenAIModel

        return OpenAIModel(arg, base_url=base_url, api_key=api_key)
    if kind == "gemini" and arg:
        api_key = _env("GEMINI_API_KEY", "GOOGLE_API_KEY")
        if api_key is None:
            raise MissingKeyError("gemini: set GEMINI_API_KEY (or GOOGLE_API_KEY)")
        from agent.models.gemini_backend import GeminiModel

        return GeminiModel(arg, api_key=api_key)
    if kind == "anthropic" and arg:
        api_key = _env("ANTHROPIC_API_KEY")
        if api_key is None:
            raise MissingKeyError("anthropic: set ANTHROPIC_API_KEY")
        from agent.models.anthropic_backend import AnthropicModel

        return AnthropicModel(arg, api_key=api_key)
    raise BadModelSpecError(f"unknown model {spec!r}; valid forms: {VALID_SPECS}")
