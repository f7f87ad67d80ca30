"""The basics of Gemini's Interactions API, as `client.interactions.create/get/delete` call it.

    POST   /v1beta/interactions          (the SDK uses /v1/interactions; both are served)
    GET    /v1beta/interactions/{id}
    DELETE /v1beta/interactions/{id}

`create` takes `model`, `input` (a string, content items, or steps), `system_instruction`,
`tools` (`{"type": "code_execution"}`, `{"type": "function", ...}`), `generation_config`
(`temperature`, `max_output_tokens`), `previous_interaction_id` (continue a stored one) and
`store` (default true). It runs the agent to the end and answers one Interaction whose `steps`
are the input's steps, then `model_output`, `code_execution_call` and `code_execution_result`
steps as the model and the sandbox produced them. `environment` (an environment's id, or an
object; environments_api.py) runs the code in that environment's lasting session.
Interactions are kept in the server's SQLite store (store.py) until deleted, per API key. Not supported (400): `stream`, `background`,
`agent`, other tools. Content items with a `uri` name files uploaded to this server.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import FastAPI, Request
from pydantic import TypeAdapter

from agent.events import Done
from agent.parts import (
    CodePart,
    FunctionCallPart,
    ImagePart,
    Message,
    Part,
    ResultPart,
    TextPart,
)
from agent.server import environments_api, files_api
from agent.server.config import ServerConfig
from agent.server.errors import ApiError, invalid
from agent.server.pool import END
from agent.server.store import rfc3339
from agent.server.wire import parse_request

_MEDIA = ("image", "document", "audio", "video")
_UNSUPPORTED = ("stream", "background", "agent", "agent_config")
_HISTORY = TypeAdapter(list[Message])


def register(app: FastAPI, config: ServerConfig) -> None:
    @app.post("/{version}/interactions")
    async def create(version: str, request: Request) -> dict[str, Any]:
        from agent.server import http

        _guard(request, version, config)
        body = await http._read_json(request, config.max_body_bytes)
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload: the request body must be a JSON object.")
        for key in _UNSUPPORTED:
            if body.get(key):
                raise invalid(f"{key}: not supported by this server's Interactions API")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise invalid("model: required (a model name, as for generateContent)")
        spec = config.resolve(model)
        if spec is None:
            raise http._unknown_model(model, config)
        store = files_api.store_of(request)
        owner = files_api.owner_of(request, config)
        history: list[Message] = []
        previous = body.get("previous_interaction_id")
        if previous:
            history = _HISTORY.validate_python(store.get_interaction(owner, str(previous))[1])
        steps = input_steps(body.get("input"))
        wire_body = {
            "contents": [c for s in steps if (c := _content(s)) is not None],
            "tools": _tools(body.get("tools")),
            "systemInstruction": body.get("system_instruction"),
            "generationConfig": _generation_config(body.get("generation_config")),
        }
        parsed = parse_request(wire_body, files_api.file_resolver(request))
        new_messages = parsed.messages
        parsed.messages = history + new_messages
        env_id = environments_api.interaction_environment(request, owner, body.get("environment"))
        result = await _run(request, config, spec, model, parsed, env_id)
        created = rfc3339(store.clock())
        interaction: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "model": model,
            "status": _status(result.finish_reason, result.parts),
            "created": created,
            "updated": created,
            "steps": steps + output_steps(result.parts),
            "usage": {
                "total_input_tokens": result.usage.prompt_token_count,
                "total_output_tokens": result.usage.candidates_token_count,
                "total_tool_use_tokens": result.usage.tool_use_prompt_token_count,
                "total_tokens": result.usage.total_token_count,
            },
        }
        if previous:
            interaction["previous_interaction_id"] = previous
        if env_id:
            interaction["environment"] = env_id
        if body.get("system_instruction"):
            interaction["system_instruction"] = body["system_instruction"]
        if body.get("store", True):
            after = [*parsed.messages, Message(role="model", parts=list(result.parts))]
            store.put_interaction(owner, interaction, _HISTORY.dump_python(after, mode="json"))
        return interaction

    @app.get("/{version}/interactions/{interaction_id}")
    async def get(version: str, interaction_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        if request.query_params.get("stream", "false").lower() == "true":
            raise invalid("stream: not supported by this server's Interactions API")
        owner = files_api.owner_of(request, config)
        return files_api.store_of(request).get_interaction(owner, interaction_id)[0]

    @app.delete("/{version}/interactions/{interaction_id}")
    async def delete(version: str, interaction_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        owner = files_api.owner_of(request, config)
        files_api.store_of(request).delete_interaction(owner, interaction_id)
        return {}


async def _run(
    request: Request, config: ServerConfig, spec: str, name: str, parsed: Any, env_id: str | None
) -> Any:
    """Run the agent through the server's pool (admission, 429, cancel on disconnect); in the
    environment's session if `env_id` names one."""
    from agent.server import http

    pool = request.app.state.pool
    if not pool.try_admit():
        raise ApiError(429, "Resource has been exhausted: too many requests; retry later.")
    if env_id is None:
        run = pool.start(http._opener(spec, name, parsed, config), asyncio.get_running_loop())
    else:
        owner = files_api.owner_of(request, config)
        open_events, stop = environments_api.opener(request, spec, name, parsed, env_id, owner)
        run = pool.start(open_events, asyncio.get_running_loop())
        stop_run = run.stop
        run.stop = lambda: (stop_run(), stop())  # type: ignore[method-assign]
    result, error = None, None
    async with http._stop_on_disconnect(request, run):
        while (item := await run.queue.get()) is not END:
            if isinstance(item, BaseException):
                error = error or http._api_error(item)
            elif isinstance(item, Done):
                result = item.result
    if error is not None:
        raise error
    if result is None:
        raise ApiError(500, "internal error: the run ended without a result")
    if result.finish_reason == "ERROR" and not result.parts:
        raise ApiError(503, f"The request could not be completed: {result.error or 'unknown'}")
    return result


def input_steps(value: Any) -> list[dict[str, Any]]:
    """`input` as steps: a string or content items become one user_input step."""
    if isinstance(value, str):
        return [{"type": "user_input", "content": [{"type": "text", "text": value}]}]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise invalid("input: required (a string, content items, or steps)")
    if all(v.get("type") in ("text", *_MEDIA) for v in value):
        return [{"type": "user_input", "content": value}]
    return value


def _content(step: dict[str, Any]) -> dict[str, Any] | None:
    """A step as a Gemini wire Content (None for steps that carry nothing for the model)."""
    kind = step.get("type")
    if kind == "user_input":
        return {"role": "user", "parts": [_part(c) for c in step.get("content") or []]}
    if kind == "model_output":
        return {"role": "model", "parts": [_part(c) for c in step.get("content") or []]}
    if kind == "code_execution_call":
        code = (step.get("arguments") or {}).get("code") or ""
        return {"role": "model", "parts": [{"executableCode": {"code": code}}]}
    if kind == "code_execution_result":
        result = step.get("result")
        if isinstance(result, list):
            result = "".join(str(c.get("text", "")) for c in result if isinstance(c, dict))
        outcome = "OUTCOME_FAILED" if step.get("is_error") else "OUTCOME_OK"
        part = {"codeExecutionResult": {"outcome": outcome, "output": str(result or "")}}
        return {"role": "model", "parts": [part]}
    if kind == "function_call":
        call = {"name": step.get("name"), "args": step.get("arguments"), "id": step.get("id")}
        return {"role": "model", "parts": [{"functionCall": call}]}
    if kind == "function_result":
        response = {"result": step.get("result")}
        reply = {"name": step.get("name") or "", "response": response, "id": step.get("call_id")}
        return {"role": "user", "parts": [{"functionResponse": reply}]}
    if kind == "thought":
        return None
    raise invalid(f"input: unsupported step type {kind!r}")


def _part(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise invalid("input: every content item must be an object")
    kind = item.get("type")
    if kind == "text":
        return {"text": str(item.get("text") or "")}
    if kind in _MEDIA:
        mime = item.get("mime_type") or "application/octet-stream"
        if item.get("data"):
            return {"inlineData": {"mimeType": mime, "data": item["data"]}}
        if item.get("uri"):
            return {"fileData": {"fileUri": item["uri"], "mimeType": mime}}
        raise invalid(f"input: a {kind} item needs data (base64) or a uri")
    raise invalid(f"input: unsupported content type {kind!r}")


def _tools(tools: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools or []):
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "code_execution":
            out.append({"codeExecution": {}})
        elif kind == "function":
            fn = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
            out.append({"functionDeclarations": [fn]})
        else:
            raise invalid(f"tools[{i}]: unsupported tool {kind!r}; use code_execution or function")
    return out


def _generation_config(cfg: Any) -> dict[str, Any] | None:
    if not cfg:
        return None
    if not isinstance(cfg, dict):
        raise invalid("generation_config: must be an object")
    return {"temperature": cfg.get("temperature"), "maxOutputTokens": cfg.get("max_output_tokens")}


def output_steps(parts: list[Part]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    call_id = ""
    for part in parts:
        if isinstance(part, TextPart):
            steps.append({"type": "model_output", "content": [{"type": "text", "text": part.text}]})
        elif isinstance(part, CodePart):
            call_id = f"call_{uuid.uuid4().hex[:12]}"
            arguments = {"code": part.code, "language": "python"}
            steps.append({"type": "code_execution_call", "id": call_id, "arguments": arguments})
        elif isinstance(part, ResultPart):
            steps.append(
                {
                    "type": "code_execution_result",
                    "call_id": call_id,
                    "result": part.output,
                    "is_error": part.outcome != "OUTCOME_OK",
                }
            )
        elif isinstance(part, ImagePart):
            image = {"type": "image", "data": part.data, "mime_type": part.mime_type}
            steps.append({"type": "model_output", "content": [image]})
        elif isinstance(part, FunctionCallPart):
            steps.append(
                {
                    "type": "function_call",
                    "id": part.id or f"call_{uuid.uuid4().hex[:12]}",
                    "name": part.name,
                    "arguments": part.args,
                }
            )
    return steps


def _status(finish_reason: str, parts: list[Part]) -> str:
    if parts and isinstance(parts[-1], FunctionCallPart):
        return "requires_action"
    if finish_reason == "STOP":
        return "completed"
    return "failed" if finish_reason == "ERROR" else "incomplete"


def _guard(request: Request, version: str, config: ServerConfig) -> None:
    from agent.server import http

    http._check_version(version)
    http._check_key(request, config)
