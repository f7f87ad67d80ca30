"""Gemini REST `GenerateContentResponse` JSON (whole answers and SSE chunks) from agent results."""

from __future__ import annotations

from typing import Any

from agent.gemini_json import finish_fields
from agent.parts import part_to_gemini
from agent.server.safejson import dumps
from agent.usage import Usage


def _candidate(parts: list[dict[str, Any]] | None, finish: dict[str, str] | None) -> dict:
    # the last stream chunk has no new parts, but an empty content spares clients a None check
    cand: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": parts or []}}
    if finish:
        cand.update(finish)
    return cand


def response_json(result: Any, model_version: str, response_id: str) -> dict[str, Any]:
    """A whole answer from a SolveResult."""
    parts = [part_to_gemini(p) for p in result.parts]
    usage: Usage = result.usage
    return {
        "candidates": [_candidate(parts, finish_fields(result.finish_reason, result.error))],
        "usageMetadata": usage.to_gemini(),
        "modelVersion": model_version,
        "responseId": response_id,
    }


def chunk_json(
    parts: list[dict[str, Any]] | None,
    model_version: str,
    response_id: str,
    *,
    finish: dict[str, str] | None = None,
    usage: Usage | None = None,
) -> dict[str, Any]:
    """One streamed chunk: some parts, and on the last one the finish reason and usage."""
    chunk: dict[str, Any] = {"candidates": [_candidate(parts, finish)]}
    if usage is not None:
        chunk["usageMetadata"] = usage.to_gemini()
    chunk["modelVersion"] = model_version
    chunk["responseId"] = response_id
    return chunk


def sse(data: dict[str, Any]) -> bytes:
    return b"data: " + dumps(data) + b"\r\n\r\n"
