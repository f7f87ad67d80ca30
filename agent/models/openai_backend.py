"""Any OpenAI-compatible chat server (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio).

Default mode: code as fenced ```python text with stop strings, which every server supports,
after the worked examples of agent.prompts as chat turns (`few_shot=False` leaves them out). With
`tools=True` (or CODEXEC_OPENAI_TOOLS=1) code runs through a native `run_python` function tool
instead, and its results go back as tool messages. Retries with backoff on 429/5xx/timeouts
are the SDK's (`max_retries`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from agent.models import run_python
from agent.models.base import GenerateOptions, ModelError, ModelTurn, TextSink
from agent.models.fenced import STOP, render_history, split_first_code_block
from agent.parts import (
    CodePart,
    FunctionCallPart,
    FunctionResponsePart,
    Message,
    ResultPart,
    TextPart,
)
from agent.usage import CallUsage

RUN_PYTHON = run_python.NAME
RUN_PYTHON_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": RUN_PYTHON,
        "description": run_python.DESCRIPTION,
        "parameters": run_python.json_schema(),
    },
}


class OpenAIModel:
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        tools: bool | None = None,
        few_shot: bool = True,
        max_retries: int = 3,
    ) -> None:
        if not model:
            raise ModelError("openai:MODEL needs a model name, e.g. openai:gpt-4o-mini")
        self.model = model
        self.spec = f"openai:{model}"
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if not self.base_url:
                raise ModelError(
                    "OPENAI_API_KEY is not set (for a local server such as vLLM, Ollama or "
                    "llama.cpp, set OPENAI_BASE_URL instead)"
                )
            key = "no-key"  # local servers accept anything
        self.api_key = key
        self.tools = os.environ.get("CODEXEC_OPENAI_TOOLS") == "1" if tools is None else tools
        self.few_shot = few_shot
        self.max_retries = max_retries
        self._clients: dict[float, Any] = {}

    def default_strategy(self) -> Any:
        """Fenced code after the worked examples, or the conversation as it is with native tools."""
        from agent.strategies import NativeTools, TextProtocol

        if self.tools:
            return NativeTools()
        return TextProtocol(few_shot=self.few_shot, prefill=False)

    def _client(self, timeout: float) -> Any:
        if timeout not in self._clients:
            import openai

            self._clients[timeout] = openai.OpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                timeout=timeout,
                max_retries=self.max_retries,
            )
        return self._clients[timeout]

    def generate(
        self,
        system: str,
        history: list[Message],
        *,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None = None,
    ) -> ModelTurn:
        native = code_execution and self.tools
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        if native:
            messages += render_tool_messages(history)
        else:
            messages += render_history(history)
        tools = [_to_openai_tool(d) for d in options.function_declarations]
        if native:
            tools.insert(0, RUN_PYTHON_TOOL)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": options.temperature,
            "max_tokens": options.max_output_tokens,
        }
        if code_execution and not native:
            request["stop"] = STOP
        if tools:
            request["tools"] = tools
        response = self._create(request, options.timeout_s)

        if not response.choices:
            raise ModelError(f"{self.spec}: the server returned no choices")
        choice = response.choices[0]
        message = choice.message
        text = message.content or ""
        usage = _usage(response, messages, text)
        calls = [c for c in message.tool_calls or () if getattr(c, "function", None)]
        finish = "MAX_TOKENS" if choice.finish_reason == "length" else "STOP"

        code: str | None = None
        function_calls: list[FunctionCallPart] = []
        for call in calls:
            args = _parse_args(call.function.arguments)
            if call.function.name == RUN_PYTHON and native:
                if code is None:
                    code = args.get("code") if isinstance(args.get("code"), str) else None
                    if code is None:
                        code = call.function.arguments or ""  # a model that sent raw source
            else:
                function_calls.append(
                    FunctionCallPart(name=call.function.name, args=args, id=call.id)
                )
        if code is None and code_execution:
            # Fenced code (also accepted from a tools-mode model that wrote a fence instead).
            prose, fenced = split_first_code_block(
                text, stopped_at_fence=choice.finish_reason == "stop"
            )
            if fenced is not None:
                text, code = prose, fenced
        if on_text is not None and text:
            on_text(text)
        if code is not None:
            finish = "CODE"
        return ModelTurn(
            text=text, code=code, function_calls=function_calls, usage=usage, finish_reason=finish
        )

    def _create(self, request: dict[str, Any], timeout: float) -> Any:
        import openai

        try:
            return self._client(timeout).chat.completions.create(**request)
        except openai.AuthenticationError as e:
            raise ModelError(
                f"{self.spec}: the server rejected OPENAI_API_KEY ({e.message})"
            ) from e
        except openai.NotFoundError as e:
            raise ModelError(f"{self.spec}: not found at {self._where()} ({e.message})") from e
        except openai.APITimeoutError as e:
            raise ModelError(
                f"{self.spec}: no answer from {self._where()} within {timeout:g} s "
                f"({self.max_retries + 1} tries)"
            ) from e
        except openai.APIConnectionError as e:
            raise ModelError(f"{self.spec}: cannot reach {self._where()} ({e})") from e
        except openai.APIStatusError as e:
            raise ModelError(
                f"{self.spec}: HTTP {e.status_code} from {self._where()} "
                f"after {self.max_retries + 1} tries: {e.message}"
            ) from e
        except openai.OpenAIError as e:
            raise ModelError(f"{self.spec}: {e}") from e

    def _where(self) -> str:
        return self.base_url or "the OpenAI API"


def render_tool_messages(history: list[Message]) -> list[dict[str, Any]]:
    """Chat messages where code ran through the `run_python` tool (and user functions as tools)."""
    messages: list[dict[str, Any]] = []
    n = 0

    def flush(content: str, calls: list[dict[str, Any]]) -> None:
        if content or calls:
            # "" rather than None: some servers (llama.cpp's) require a string
            msg: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                msg["tool_calls"] = calls
            messages.append(msg)

    pending_ids: dict[str, list[str]] = {}  # function name -> call ids awaiting a response
    for message in history:
        if message.role == "user":
            text = ""
            for part in message.parts:
                if isinstance(part, TextPart):
                    text += part.text
                elif isinstance(part, FunctionResponsePart):
                    ids = pending_ids.get(part.name) or []
                    call_id = part.id or (ids.pop(0) if ids else f"call_{part.name}")
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": call_id,
                            "content": json.dumps(part.response),
                        }
                    )
            if text:
                messages.append({"role": "user", "content": text})
            continue
        content = ""
        calls: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, TextPart):
                if calls:  # text after a call starts a new assistant message
                    flush(content, calls)
                    content, calls = "", []
                content += part.text
            elif isinstance(part, CodePart):
                n += 1
                args = json.dumps({"code": part.code})
                calls.append(_tool_call(f"call_{n}", RUN_PYTHON, args))
            elif isinstance(part, ResultPart):
                flush(content, calls)
                content, calls = "", []
                messages.append(
                    {"role": "tool", "tool_call_id": f"call_{n}", "content": part.output}
                )
            elif isinstance(part, FunctionCallPart):
                n += 1
                call_id = part.id or f"call_{n}"
                pending_ids.setdefault(part.name, []).append(call_id)
                calls.append(_tool_call(call_id, part.name, json.dumps(part.args)))
        flush(content, calls)
    return messages


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _to_openai_tool(declaration: dict[str, Any]) -> dict[str, Any]:
    """A Gemini function declaration as an OpenAI tool (schema types lower-cased)."""
    params = declaration.get("parameters") or declaration.get("parametersJsonSchema")
    function: dict[str, Any] = {"name": declaration["name"]}
    if declaration.get("description"):
        function["description"] = declaration["description"]
    function["parameters"] = (
        _lower_types(params) if params else {"type": "object", "properties": {}}
    )
    return {"type": "function", "function": function}


def _lower_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def _parse_args(arguments: str | None) -> dict[str, Any]:
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}


def _usage(response: Any, messages: list[dict[str, Any]], text: str) -> CallUsage:
    u = getattr(response, "usage", None)
    if u is not None and u.prompt_tokens is not None:
        return CallUsage(prompt_tokens=u.prompt_tokens, output_tokens=u.completion_tokens or 0)
    # No usage reported: a rough count (about 4 characters per token).
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    return CallUsage(prompt_tokens=chars // 4, output_tokens=len(text) // 4)
