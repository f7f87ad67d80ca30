"""Model registry: a spec string -> a new backend object (backends are imported lazily)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

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
    "OPERATOR_CREDENTIALS",
    "PROVIDERS",
    "Provider",
    "SPEC_PREFIXES",
    "VALID_SPECS",
]

LOCAL_SIZES = ("1.5b", "0.5b")


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _require(kind: str, module: str, extra: str) -> None:
    """A clear error when a backend's SDK is not installed (the cloud SDKs are an extra)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module set to None
        found = False
    if not found:
        raise BadModelSpecError(
            f"{kind}: the {module} package is not installed; install it with "
            f"pip install 'codexec[{extra}]'"
        )


def _local(arg: str) -> Model:
    from agent.models.gguf_file import is_path_spec

    size = (arg or "1.5b").lower()
    if is_path_spec(arg):
        size = arg  # a GGUF file of the user's own: checked by LocalModel
    elif size not in LOCAL_SIZES:
        raise BadModelSpecError(
            f"unknown local model {arg!r}; use local:1.5b, local:0.5b or local:/path/to/model.gguf"
        )
    from agent.models.local import LocalModel

    return LocalModel(size)


def _scripted(path: str) -> Model:
    from agent.models.scripted import ScriptedModel

    return ScriptedModel(path)


def _openai(name: str) -> Model:
    base_url = _env("OPENAI_BASE_URL")
    api_key = _env("OPENAI_API_KEY")
    if api_key is None:
        if base_url is None:
            raise MissingKeyError(
                "openai: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server such as "
                "vLLM, Ollama or llama.cpp, which needs no key)"
            )
        api_key = "not-needed"
    _require("openai", "openai", "cloud")
    from agent.models.openai_backend import OpenAIModel

    return OpenAIModel(name, base_url=base_url, api_key=api_key)


def _gemini(name: str) -> Model:
    api_key = _env("GEMINI_API_KEY", "GOOGLE_API_KEY")
    if api_key is None:
        raise MissingKeyError("gemini: set GEMINI_API_KEY (or GOOGLE_API_KEY)")
    _require("gemini", "google.genai", "cloud")
    from agent.models.gemini_backend import GeminiModel

    return GeminiModel(name, api_key=api_key)


def _anthropic(name: str) -> Model:
    api_key = _env("ANTHROPIC_API_KEY")
    if api_key is None:
        raise MissingKeyError("anthropic: set ANTHROPIC_API_KEY")
    _require("anthropic", "anthropic", "cloud")
    from agent.models.anthropic_backend import AnthropicModel

    return AnthropicModel(name, api_key=api_key)


@dataclass(frozen=True)
class Provider:
    """One backend: how its specs are written and how one is made (imported only then)."""

    kind: str  # the spec's prefix: "openai" in "openai:gpt-4o"
    forms: tuple[str, ...]  # the spec forms shown to users
    make: Callable[[str], Model]  # the text after "kind:" -> a new backend
    needs_arg: bool = True  # "local" alone is a spec; "openai" alone is not
    credentials: tuple[str, ...] = ()  # environment variables that give it paid or private use


PROVIDERS = (
    Provider("local", ("local", "local:1.5b", "local:0.5b"), _local, needs_arg=False),
    Provider(
        "openai", ("openai:MODEL",), _openai, credentials=("OPENAI_API_KEY", "OPENAI_BASE_URL")
    ),
    Provider(
        "gemini", ("gemini:MODEL",), _gemini, credentials=("GEMINI_API_KEY", "GOOGLE_API_KEY")
    ),
    Provider("anthropic", ("anthropic:MODEL",), _anthropic, credentials=("ANTHROPIC_API_KEY",)),
    Provider("scripted", ("scripted:PATH",), _scripted),
)
VALID_SPECS = ", ".join(form for p in PROVIDERS for form in p.forms)
SPEC_PREFIXES = tuple(f"{p.kind}:" for p in PROVIDERS)
OPERATOR_CREDENTIALS = tuple(name for p in PROVIDERS for name in p.credentials)


def get_model(spec: str) -> Model:
    """A new Model for `spec`; BadModelSpecError / MissingKeyError (both ModelError) if unusable."""
    spec = (spec or "").strip()
    kind, _, arg = spec.partition(":")
    for provider in PROVIDERS:
        if provider.kind == kind.lower() and (arg or not provider.needs_arg):
            return provider.make(arg)
    raise BadModelSpecError(f"unknown model {spec!r}; valid forms: {VALID_SPECS}")
