"""Interactions API JSON <-> the agent's types: input steps as Gemini wire contents, the agent's
parts as output steps, the interaction's status (interactions_api.py, interactions_stream.py)."""

from __future__ import annotations

import uuid
from typing import Any

from agent.parts import (
    FIGURE_LINE,
    CodePart,
    FunctionCallPart,
    ImagePart,
    Part,
    ResultPart,
    TextPart,
)
from agent.server.errors import invalid

_MEDIA = ("image", "document", "audio", "video")


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


def wire_content(step: dict[str, Any]) -> dict[str, Any] | None:
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


def wire_tools(tools: Any) -> list[dict[str, Any]]:
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


def wire_generation_config(cfg: Any) -> dict[str, Any] | None:
    if not cfg:
        return None
    if not isinstance(cfg, dict):
        raise invalid("generation_config: must be an object")
    return {"temperature": cfg.get("temperature"), "maxOutputTokens": cfg.get("max_output_tokens")}


def output_steps(parts: list[Part]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    call_id = ""
    for part in parts:
        step = part_step(part, call_id)
        if step is not None:
            steps.append(step)
            if step["type"] == "code_execution_call":
                call_id = step["id"]
    return steps


def part_step(part: Part, call_id: str) -> dict[str, Any] | None:
    """One agent part as an output step (`call_id`: the id of the code call a result answers)."""
    if isinstance(part, TextPart):
        return {"type": "model_output", "content": [{"type": "text", "text": part.text}]}
    if isinstance(part, CodePart):
        arguments = {"code": part.code, "language": "python"}
        return {"type": "code_execution_call", "id": new_call_id(), "arguments": arguments}
    if isinstance(part, ResultPart):
        return {
            "type": "code_execution_result",
            "call_id": call_id,
            "result": FIGURE_LINE.sub("", part.output),  # figures follow as image steps
            "is_error": part.outcome != "OUTCOME_OK",
        }
    if isinstance(part, ImagePart):
        image = {"type": "image", "data": part.data, "mime_type": part.mime_type}
        return {"type": "model_output", "content": [image]}
    if isinstance(part, FunctionCallPart):
        return {
            "type": "function_call",
            "id": part.id or new_call_id(),
            "name": part.name,
            "arguments": part.args,
        }
    return None


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"


def status_of(finish_reason: str, parts: list[Part]) -> str:
    if parts and isinstance(parts[-1], FunctionCallPart):
        return "requires_action"
    if finish_reason == "STOP":
        return "completed"
    return "failed" if finish_reason == "ERROR" else "incomplete"
