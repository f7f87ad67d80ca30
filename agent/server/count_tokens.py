"""`POST /v1beta/models/{model}:countTokens`, as `client.models.count_tokens` calls it.

The body is Gemini's CountTokensRequest: `{"contents": [...]}` (what the SDK sends; it refuses
`system_instruction` and `tools` in its config for the Gemini API), or
`{"generateContentRequest": {"contents": [...], "systemInstruction": ..., "tools": [...]}}`;
top-level `systemInstruction`/`tools` are accepted too (the SDK's Vertex form).

We count the prompt the model would get for its first call if the same request went to
generateContent: our system prompt (with the caller's systemInstruction, and the code-execution
instructions when `tools` has codeExecution), attached files' names, the conversation. How the
count was made is in the `X-Codexec-Token-Count` response header:
- `tokenizer`: local models, with the model's own tokenizer over the rendered ChatML prompt
  (worked examples included when code execution is on), exact;
- `provider`: `anthropic:` through Anthropic's count_tokens endpoint (exact for that request);
  `gemini:` through Gemini's countTokens over the contents plus the system prompt sent as text
  (Gemini's API does not count a system instruction or tools separately);
- `estimate`: `openai:` (no counting endpoint) and `scripted:`: characters / 4 of a plain
  rendering, the same estimate the scripted backend reports as usage.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from agent.files import files_from_messages, inline_text_files, unique
from agent.models import get_model
from agent.models.base import BadModelSpecError, ModelError
from agent.parts import Message, TextPart
from agent.server.config import ServerConfig
from agent.server.errors import ApiError, invalid, not_found
from agent.server.wire import ParsedRequest, parse_request
from agent.strategies import NativeTools, Prompt, Strategy

HEADER = "X-Codexec-Token-Count"
CHARS_PER_TOKEN = 4


def register(app: FastAPI, config: ServerConfig) -> None:
    """Add the route; must run before the catch-all `/{version}/models/{target}` POST route."""

    @app.post("/{version}/models/{name:path}:countTokens")
    async def count_tokens(version: str, name: str, request: Request) -> JSONResponse:
        from agent.server import files_api
        from agent.server import http as h

        h._check_version(version)
        h._check_key(request, config)
        spec = config.resolve(name)
        if spec is None:
            raise h._unknown_model(name, config)
        body = await h._read_json(request, config.max_body_bytes)
        parsed = parse_request(request_body(body), files_api.file_resolver(request))
        total, how = await asyncio.to_thread(count, spec, parsed)
        return JSONResponse(
            {
                "totalTokens": total,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}],
            },
            headers={HEADER: how},
        )


def request_body(body: Any) -> dict[str, Any]:
    """The GenerateContentRequest-shaped part of a CountTokensRequest."""
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload: the request body must be a JSON object.")
    inner = body.get("generateContentRequest", body.get("generate_content_request"))
    if inner is None:
        return body
    if not isinstance(inner, dict):
        raise invalid("generateContentRequest must be a JSON object.")
    if body.get("contents"):
        raise invalid("Specify either contents or generateContentRequest, not both.")
    return inner


def prompt_of(parsed: ParsedRequest, strategy: Strategy | None = None) -> Prompt:
    """The prompt the agent builds before its first model call (`strategy`'s, else the
    conversation as it is with the files note in the system prompt)."""
    history = list(parsed.messages)
    inputs = unique(files_from_messages(history))
    if not parsed.code_execution and inputs:
        history = inline_text_files(history, inputs)
    return (strategy or NativeTools()).prompt(
        history,
        code_execution=parsed.code_execution,
        files=[f.name for f in inputs],
        instruction=parsed.system_instruction or "",
    )


def count(spec: str, parsed: ParsedRequest) -> tuple[int, str]:
    """(token count, how it was made: tokenizer | provider | estimate)."""
    from agent.models.local import local_strategy

    try:
        prompt = prompt_of(parsed)
        local_prompt = prompt_of(parsed, local_strategy())
    except ValueError as e:  # a bad attached file
        raise invalid(str(e)) from None
    system, history = prompt.system, prompt.history
    kind, _, arg = spec.partition(":")
    try:
        if kind == "local":
            return _local(arg or "1.5b", local_prompt), "tokenizer"
        if kind == "anthropic":
            return _anthropic(spec, system, history, parsed), "provider"
        if kind == "gemini":
            return _gemini(spec, system, history, parsed.code_execution), "provider"
        get_model(spec)  # openai: needs its key or base URL; scripted: its file must exist
    except BadModelSpecError as e:
        raise not_found(f"models/{spec} is not found: {e}") from None
    except ModelError as e:
        raise ApiError(503, f"Tokens could not be counted for {spec}: {e}") from None
    return estimate(system, history), "estimate"


def estimate(system: str, history: list[Message]) -> int:
    from agent.models.scripted import render_plain

    return len(render_plain(system, history)) // CHARS_PER_TOKEN


def _local(size: str, prompt: Prompt) -> int:
    from agent.models.gguf_file import is_path_spec
    from agent.models.local_tokens import count_prompt_tokens

    if not is_path_spec(size) and size.lower() not in ("1.5b", "0.5b"):
        raise BadModelSpecError(f"unknown local model size {size!r}; use local:1.5b or local:0.5b")
    return count_prompt_tokens(size if is_path_spec(size) else size.lower(), prompt)


def _anthropic(spec: str, system: str, history: list[Message], parsed: ParsedRequest) -> int:
    model: Any = get_model(spec)
    request = model.build_request(system, history, parsed.code_execution, parsed.options)
    request.pop("max_tokens", None)
    try:
        return int(model._client.messages.count_tokens(**request).input_tokens)
    except Exception as e:  # the SDK's API and transport errors
        raise ModelError(f"anthropic count_tokens failed: {type(e).__name__}: {e}") from e


def _gemini(spec: str, system: str, history: list[Message], code_execution: bool) -> int:
    model: Any = get_model(spec)
    with_system = [Message(role="user", parts=[TextPart(text=system)]), *history]
    contents = model.to_contents(with_system, code_execution)
    try:
        response = model._client.models.count_tokens(model=model.model, contents=contents)
    except Exception as e:  # the SDK's API and transport errors
        raise ModelError(f"gemini countTokens failed: {type(e).__name__}: {e}") from e
    return int(response.total_tokens or 0)
