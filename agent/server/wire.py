"""Gemini REST wire types (camelCase, snake_case accepted too) and their mapping to agent types.

Only the request side is modelled with pydantic; responses are plain dicts built from the
agent's parts with `agent.parts.part_to_gemini`, so they are exactly Gemini's REST JSON.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from agent.files import decode_base64
from agent.models.base import GenerateOptions
from agent.parts import (
    CodePart,
    FunctionCallPart,
    FunctionResponsePart,
    ImagePart,
    Message,
    Part,
    ResultPart,
    TextPart,
)
from agent.server.errors import invalid


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Blob(_Wire):
    mime_type: str = "application/octet-stream"
    data: str
    display_name: str | None = None


class ExecutableCode(_Wire):
    code: str
    language: str = "PYTHON"


class CodeExecutionResult(_Wire):
    outcome: str = "OUTCOME_OK"
    output: str = ""


class FunctionCall(_Wire):
    name: str
    args: dict[str, Any] | None = None
    id: str | None = None


class FunctionResponse(_Wire):
    name: str
    response: dict[str, Any] | None = None
    id: str | None = None


# Part fields that carry no content for us; accepted and ignored (the SDK may send them).
_IGNORED_PART_FIELDS = {
    "thought",
    "thoughtSignature",
    "thought_signature",
    "videoMetadata",
    "video_metadata",
    "partMetadata",
    "part_metadata",
    "mediaResolution",
    "media_resolution",
}


class WirePart(_Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    text: str | None = None
    inline_data: Blob | None = None
    executable_code: ExecutableCode | None = None
    code_execution_result: CodeExecutionResult | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    file_data: dict[str, Any] | None = None
    thought: bool | None = None


class Content(_Wire):
    role: str | None = None
    parts: list[WirePart] = []


class Tool(_Wire):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    code_execution: dict[str, Any] | None = None
    function_declarations: list[dict[str, Any]] | None = None


class GenerationConfig(_Wire):
    # Gemini's ranges; NaN and infinities are refused (json.loads would accept `NaN`)
    temperature: float | None = Field(None, ge=0.0, le=2.0, allow_inf_nan=False)
    max_output_tokens: int | None = Field(None, le=2**31 - 1)
    candidate_count: int | None = Field(None, le=2**31 - 1)


class GenerateContentRequest(_Wire):
    contents: list[Content] | None = None
    tools: list[Tool] | None = None
    system_instruction: Content | str | None = None
    generation_config: GenerationConfig | None = None


# fileData -> the part it names (an uploaded file, see files_api.py); raises ApiError if it cannot
FileResolver = Callable[[dict[str, Any], str], Part]


class ParsedRequest(BaseModel):
    """What the agent needs from one request."""

    messages: list[Message]
    system_instruction: str | None
    code_execution: bool
    options: GenerateOptions


def parse_request(body: Any, resolve_file: FileResolver | None = None) -> ParsedRequest:
    """Validate a decoded JSON body; raise ApiError(400) with a readable message if it is bad.
    `fileData` parts are refused unless `resolve_file` turns them into parts."""
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload: the request body must be a JSON object.")
    try:
        req = GenerateContentRequest.model_validate(body)
    except ValidationError as e:
        raise invalid("Invalid request: " + _describe(e)) from None
    if not req.contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified")
    cfg = req.generation_config or GenerationConfig()
    if cfg.candidate_count not in (None, 1):
        raise invalid("Only one candidate can be specified (candidateCount must be 1).")
    if cfg.max_output_tokens is not None and cfg.max_output_tokens < 1:
        raise invalid("generationConfig.maxOutputTokens must be positive.")
    code_execution, declarations = _parse_tools(req.tools or [])
    options = GenerateOptions(function_declarations=declarations)
    if cfg.temperature is not None:
        options.temperature = cfg.temperature
    if cfg.max_output_tokens is not None:
        options.max_output_tokens = cfg.max_output_tokens
    return ParsedRequest(
        messages=_messages(req.contents, resolve_file),
        system_instruction=_system_text(req.system_instruction),
        code_execution=code_execution,
        options=options,
    )


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        where = ".".join(str(x) for x in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(parts)


def _parse_tools(tools: list[Tool]) -> tuple[bool, list[dict[str, Any]]]:
    code_execution = False
    declarations: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if tool.code_execution is not None:
            code_execution = True
        if tool.function_declarations:
            for d in tool.function_declarations:
                if not isinstance(d.get("name"), str) or not d["name"]:
                    raise invalid(
                        f"tools[{i}].functionDeclarations: every declaration needs a name"
                    )
            declarations.extend(tool.function_declarations)
        other = sorted(tool.model_extra or {})
        if other:
            raise invalid(
                f"tools[{i}]: unsupported tool {', '.join(other)}; this server supports "
                "codeExecution and functionDeclarations"
            )
    return code_execution, declarations


def _system_text(si: Content | str | None) -> str | None:
    if si is None:
        return None
    if isinstance(si, str):
        return si or None
    text = "\n".join(p.text for p in si.parts if p.text)
    return text or None


# File names for inline data without a displayName, by MIME type (mimetypes is platform-dependent).
_EXTENSIONS = {
    "text/csv": ".csv",
    "text/plain": ".txt",
    "text/tab-separated-values": ".tsv",
    "text/markdown": ".md",
    "text/html": ".html",
    "application/json": ".json",
    "application/pdf": ".pdf",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-excel": ".xls",
    "application/rtf": ".rtf",
    "text/rtf": ".rtf",
    "application/zip": ".zip",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(mime_type: str, index: int, display_name: str | None) -> str:
    """A safe sandbox file name: the display name's base name, else file_<index><ext>."""
    if display_name:
        base = display_name.replace("\\", "/").rsplit("/", 1)[-1]
        base = _SAFE_NAME.sub("_", base).strip("._")
        if base:
            return base[:120]
    mime = mime_type.split(";", 1)[0].strip().lower()
    ext = _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ".bin"
    return f"file_{index}{ext}"


def _canonical_b64(data: str, where: str) -> str:
    """The data in standard padded base64 (URL-safe and unpadded are accepted, as by Gemini and
    agent.files, which decodes it later); 400 if it is not base64."""
    try:
        raw = decode_base64(data)
    except ValueError:
        raise invalid(f"{where}.inlineData.data: invalid base64 data") from None
    return (
        data
        if len(data) % 4 == 0 and "-" not in data and "_" not in data
        else base64.b64encode(raw).decode()
    )


def _messages(contents: list[Content], resolve_file: FileResolver | None) -> list[Message]:
    messages: list[Message] = []
    file_index = 0
    used_names: set[str] = set()
    for ci, content in enumerate(contents):
        role = content.role or "user"
        if role == "function":  # older Gemini clients send function responses with this role
            role = "user"
        if role not in ("user", "model"):
            raise invalid(f"contents[{ci}].role: must be 'user' or 'model', got {role!r}")
        if not content.parts:
            raise invalid(f"contents[{ci}].parts: must not be empty")
        parts: list[Part] = []
        for pi, wp in enumerate(content.parts):
            where = f"contents[{ci}].parts[{pi}]"
            part = _part(wp, role, where, resolve_file)
            if part is None:
                continue
            if isinstance(part, ImagePart) and role == "user":
                file_index += 1
                name = file_name(part.mime_type, file_index, part.name)
                if name in used_names:
                    stem, dot, ext = name.rpartition(".")
                    name = f"{stem}_{file_index}.{ext}" if dot else f"{name}_{file_index}"
                used_names.add(name)
                part.name = name
            parts.append(part)
        if parts:
            messages.append(Message(role=role, parts=parts))  # type: ignore[arg-type]
    if not messages:
        raise invalid("contents: no usable parts")
    return messages


def _part(
    wp: WirePart, role: str, where: str, resolve_file: FileResolver | None = None
) -> Part | None:
    extra = set(wp.model_extra or {}) - _IGNORED_PART_FIELDS
    if extra:
        raise invalid(f"{where}: unknown part type {', '.join(sorted(extra))}")
    if wp.file_data is not None and resolve_file is not None:
        return resolve_file(wp.file_data, f"{where}.fileData")
    if wp.file_data is not None:
        raise invalid(
            f"{where}.fileData: file URIs are not supported by this server; "
            "send the file's bytes as inlineData"
        )
    if wp.text is not None:
        if wp.thought:
            return None  # a previous answer's thought summary: not part of the conversation
        return TextPart(text=wp.text)
    if wp.inline_data is not None:
        return ImagePart(
            mime_type=wp.inline_data.mime_type,
            data=_canonical_b64(wp.inline_data.data, where),
            name=wp.inline_data.display_name,
        )
    if wp.executable_code is not None:
        return CodePart(code=wp.executable_code.code, language=wp.executable_code.language)
    if wp.code_execution_result is not None:
        r = wp.code_execution_result
        return ResultPart(outcome=r.outcome, output=r.output)
    if wp.function_call is not None:
        fc = wp.function_call
        return FunctionCallPart(name=fc.name, args=fc.args or {}, id=fc.id)
    if wp.function_response is not None:
        fr = wp.function_response
        return FunctionResponsePart(name=fr.name, response=fr.response or {}, id=fr.id)
    if wp.thought is not None or wp.model_extra:
        return None  # only ignorable metadata
    raise invalid(f"{where}: empty part (expected text, inlineData, or another part type)")
