"""Claude through the official `anthropic` SDK, with our sandbox as its `run_python` tool.

The model's `tool_use` of `run_python` is the code to run; its result goes back as a
`tool_result` block (text, plus figures as image blocks). User function declarations (Gemini
JSON) become Anthropic tools; their calls come back as `FunctionCallPart`s.
"""

from __future__ import annotations

import json
import os
from typing import Any

import anthropic

from agent.models import run_python
from agent.models.base import GenerateOptions, MissingKeyError, ModelError, ModelTurn, TextSink
from agent.models.fenced import fence_code, fence_output, split_first_code_block
from agent.parts import (
    CodePart,
    FunctionCallPart,
    FunctionResponsePart,
    ImagePart,
    Message,
    ResultPart,
    TextPart,
)
from agent.usage import CallUsage

RUN_PYTHON = run_python.NAME
RUN_PYTHON_TOOL: dict[str, Any] = {
    "name": RUN_PYTHON,
    "description": run_python.DESCRIPTION,
    "input_schema": run_python.json_schema(),
}
MAX_RETRIES = 3  # the SDK retries 408/409/429/5xx and connection errors with backoff
PDF = "application/pdf"
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
STOP_REASONS = {"max_tokens": "MAX_TOKENS", "tool_use": "STOP", "end_turn": "STOP"}


class AnthropicModel:
    """`anthropic:MODEL`. Reads ANTHROPIC_API_KEY."""

    def __init__(self, model: str, api_key: str | None = None, base_url: str | None = None) -> None:
        if not model:
            raise ModelError(
                "anthropic: a model name is required, e.g. anthropic:claude-sonnet-5-5"
            )
        key = api_key or os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise MissingKeyError("anthropic: set ANTHROPIC_API_KEY")
        self.model = model
        self.spec = f"anthropic:{model}"
        self._client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=MAX_RETRIES)

    def generate(
        self,
        system: str,
        history: list[Message],
        *,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None = None,
    ) -> ModelTurn:
        request = self.build_request(system, history, code_execution, options)
        client = self._client.with_options(timeout=options.timeout_s)
        try:
            if on_text is None:
                message = client.messages.create(**request)
            else:
                message = self._stream(client, request, on_text)
        except anthropic.AuthenticationError as e:
            raise ModelError(
                f"anthropic: the API key was rejected (401): {_detail(e)}; check ANTHROPIC_API_KEY"
            ) from e
        except anthropic.PermissionDeniedError as e:
            raise ModelError(f"anthropic: permission denied (403): {_detail(e)}") from e
        except anthropic.NotFoundError as e:
            raise ModelError(f"anthropic: unknown model {self.model!r} (404): {_detail(e)}") from e
        except anthropic.APITimeoutError as e:
            raise ModelError(
                f"anthropic: request timed out after {options.timeout_s:g} s "
                f"({MAX_RETRIES + 1} attempts)"
            ) from e
        except anthropic.APIConnectionError as e:
            raise ModelError(f"anthropic: cannot reach the Anthropic API: {e}") from e
        except anthropic.APIStatusError as e:
            raise ModelError(f"anthropic: API error {e.status_code}: {_detail(e)}") from e
        except _SinkError as e:  # the caller's on_text raised (e.g. it stopped listening)
            raise e.error from None
        except Exception as e:  # the SDK failing to parse what came back
            raise ModelError(f"anthropic: malformed response: {type(e).__name__}: {e}") from e
        return self.parse(message, code_execution)

    def _stream(
        self, client: anthropic.Anthropic, request: dict[str, Any], on_text: TextSink
    ) -> Any:
        code_seen = False
        with client.messages.stream(**request) as stream:
            for event in stream:
                if event.type == "content_block_start" and event.content_block.type == "tool_use":
                    code_seen = True
                elif event.type == "text" and not code_seen:
                    try:
                        on_text(event.text)
                    except Exception as e:
                        raise _SinkError(e) from e
            return stream.get_final_message()

    # --- request -----------------------------------------------------------------------------

    def build_request(
        self,
        system: str,
        history: list[Message],
        code_execution: bool,
        options: GenerateOptions,
    ) -> dict[str, Any]:
        messages = to_messages(history, code_execution)
        if not messages:
            raise ModelError("anthropic: nothing to send (empty history)")
        request: dict[str, Any] = {
            "model": self.model,
            # no temperature: the current Messages API (anthropic SDK 2.x) has no sampling knobs
            "max_tokens": options.max_output_tokens,
            "messages": messages,
        }
        if system:
            request["system"] = system
        tools = [RUN_PYTHON_TOOL] if code_execution else []
        tools += [to_tool(d) for d in options.function_declarations]
        if tools:
            request["tools"] = tools
        return request

    # --- response ----------------------------------------------------------------------------

    def parse(self, message: Any, code_execution: bool) -> ModelTurn:
        if not isinstance(message, anthropic.types.Message):
            raise ModelError(f"anthropic: malformed response: {str(message)[:200]!r}")
        blocks = list(message.content or [])
        usage = CallUsage()
        if message.usage is not None:
            u = message.usage
            prompt = (
                u.input_tokens
                + (u.cache_creation_input_tokens or 0)
                + (u.cache_read_input_tokens or 0)
            )
            usage = CallUsage(prompt_tokens=prompt, output_tokens=u.output_tokens)
        texts: list[str] = []
        code: str | None = None
        calls: list[FunctionCallPart] = []
        for block in blocks:
            if block.type == "text" and code is None:
                texts.append(block.text)
            elif block.type == "tool_use":
                args = dict(block.input or {})
                if code_execution and block.name == RUN_PYTHON:
                    if code is None:
                        given = args.get("code")
                        if not isinstance(given, str):
                            raise ModelError("anthropic: run_python was called without code")
                        code = given
                else:
                    calls.append(FunctionCallPart(name=block.name, args=args, id=block.id))
        text = "".join(texts)
        if code is None and code_execution and not calls:
            text, code = split_first_code_block(text)  # a fenced block instead of a call
        if code is not None:
            return ModelTurn(
                text=text, code=code, function_calls=calls, usage=usage, finish_reason="CODE"
            )
        finish = STOP_REASONS.get(message.stop_reason or "", "STOP")
        if not text and not calls and finish != "MAX_TOKENS":
            raise ModelError(f"anthropic: empty response (stop_reason {message.stop_reason})")
        return ModelTurn(text=text, function_calls=calls, usage=usage, finish_reason=finish)


class _SinkError(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def to_messages(history: list[Message], code_execution: bool) -> list[dict[str, Any]]:
    """Our history as Anthropic messages: code -> tool_use, its result -> tool_result.

    Tool-use ids are made up by position (Anthropic only checks that each tool_result matches a
    tool_use of the turn before). Without code execution, code and results are shown as text.
    """
    messages: list[dict[str, Any]] = []
    code_count = call_count = 0
    pending_ids: dict[str, list[str]] = {}  # function name -> ids of calls not yet answered

    def add(role: str, block: dict[str, Any]) -> None:
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].append(block)
        else:
            messages.append({"role": role, "content": [block]})

    def last_tool_result() -> dict[str, Any] | None:
        if messages and messages[-1]["role"] == "user" and messages[-1]["content"]:
            block = messages[-1]["content"][-1]
            if block["type"] == "tool_result":
                return block
        return None

    for message in history:
        role = "assistant" if message.role == "model" else "user"
        for part in message.parts:
            if isinstance(part, TextPart):
                if part.text.strip():
                    add(role, {"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                if part.mime_type not in IMAGE_TYPES and part.mime_type != PDF:
                    continue  # other files are in the sandbox, named in the system prompt
                image = _image(part)
                result = last_tool_result() if role == "assistant" else None
                if result is not None:
                    result["content"].append(image)  # a figure of the run before it
                else:
                    add("user" if role == "assistant" and messages else role, image)
            elif isinstance(part, CodePart):
                if code_execution:
                    code_count += 1
                    add(
                        "assistant",
                        {
                            "type": "tool_use",
                            "id": f"toolu_run_python_{code_count}",
                            "name": RUN_PYTHON,
                            "input": {"code": part.code},
                        },
                    )
                else:
                    add("assistant", {"type": "text", "text": fence_code(part.code)})
            elif isinstance(part, ResultPart):
                output = part.output or "(no output)"
                if code_execution and code_count:
                    block: dict[str, Any] = {
                        "type": "tool_result",
                        "tool_use_id": f"toolu_run_python_{code_count}",
                        "content": [{"type": "text", "text": output}],
                    }
                    if part.outcome != "OUTCOME_OK":
                        block["is_error"] = True
                        block["content"][0]["text"] = f"{part.outcome}\n{output}"
                    add("user", block)
                else:
                    add("user", {"type": "text", "text": fence_output(part.output)})
            elif isinstance(part, FunctionCallPart):
                call_count += 1
                call_id = part.id or f"toolu_{part.name}_{call_count}"
                pending_ids.setdefault(part.name, []).append(call_id)
                add(
                    "assistant",
                    {"type": "tool_use", "id": call_id, "name": part.name, "input": part.args},
                )
            elif isinstance(part, FunctionResponsePart):
                queue = pending_ids.get(part.name) or []
                call_id = part.id or (queue[0] if queue else f"toolu_{part.name}")
                if call_id in queue:
                    queue.remove(call_id)
                add(
                    "user",
                    {
                        "type": "tool_result",
                        "tool_use_id": call_id,
                        "content": [{"type": "text", "text": _json(part.response)}],
                    },
                )
    return messages


def to_tool(declaration: dict[str, Any]) -> dict[str, Any]:
    """A Gemini function declaration as an Anthropic tool."""
    if "name" not in declaration:
        raise ModelError(f"anthropic: function declaration without a name: {declaration!r}")
    schema = (
        declaration.get("parametersJsonSchema")
        or declaration.get("parameters_json_schema")
        or _json_schema(declaration.get("parameters") or {"type": "object", "properties": {}})
    )
    tool: dict[str, Any] = {"name": declaration["name"], "input_schema": schema}
    if declaration.get("description"):
        tool["description"] = declaration["description"]
    return tool


def _json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-style schema (types in capitals, `nullable`) as JSON Schema."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif key in ("properties", "$defs", "defs"):
            out[key] = {k: _json_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf", "any_of"):
            out["anyOf" if key == "any_of" else key] = _json_schema(value)
        elif key in ("nullable", "propertyOrdering", "property_ordering"):
            continue
        else:
            out[key] = value
    if schema.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _image(part: ImagePart) -> dict[str, Any]:
    source = {"type": "base64", "media_type": part.mime_type, "data": part.data}
    return {"type": "document" if part.mime_type == PDF else "image", "source": source}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _detail(e: anthropic.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"])
    return e.message
