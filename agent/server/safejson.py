"""JSON in and out of the server that cannot fail on what a client or a model sends.

In: `parse_body` decodes a request body within limits (nesting depth, integer length, no
NaN/Infinity, no lone surrogates) and raises ApiError(400) otherwise, so a hostile body is a
Gemini-style 400, never a RecursionError or a ValueError deep in the stack.
Out: `dumps` never raises on text a model or its code produced (lone surrogates become U+FFFD;
non-finite floats become null), so a response is always valid UTF-8 JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any

from fastapi.responses import JSONResponse

from agent.server.errors import invalid

MAX_DEPTH = 64  # arrays/objects inside each other (Gemini's own protobuf limit is 100)
_TOO_DEEP = f"Invalid JSON payload received: nested deeper than {MAX_DEPTH} levels."
_SURROGATE = re.compile("[\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise invalid(f"Invalid JSON payload received: {name} is not a JSON value.")


def parse_body(body: bytes) -> Any:
    """The decoded JSON value of a request body, or ApiError(400) saying what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise invalid(f"Invalid JSON payload received: not UTF-8 ({e.reason}).") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise invalid(f"Invalid JSON payload received: {e}") from None
    except RecursionError:
        raise invalid(_TOO_DEEP) from None
    except ValueError:  # an integer beyond Python's int_max_str_digits (4300)
        raise invalid("Invalid JSON payload received: an integer is too long.") from None
    check_value(value)
    return value


def check_value(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH, lone surrogates (`"\\ud800"`, not text) in keys
    or strings, and non-finite numbers (`1e999`); level by level, so depth cannot hurt."""
    level = [value]
    for depth in itertools.count():
        if not level:
            return
        below: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is str:
                if _SURROGATE.search(item):
                    raise invalid(
                        "Invalid JSON payload received: a string holds an unpaired UTF-16 "
                        "surrogate (\\ud800-\\udfff), which is not a character."
                    )
            elif kind is float:
                if not math.isfinite(item):
                    raise invalid("Invalid JSON payload received: a number is out of range.")
            elif (kind is dict or kind is list) and depth >= MAX_DEPTH:
                raise invalid(_TOO_DEEP)
            elif kind is dict:
                below.extend(item)
                below.extend(item.values())
            elif kind is list:
                below.extend(item)
        level = below


def scrub(text: str) -> str:
    """Text with lone surrogates replaced by U+FFFD (so it encodes as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON that always encodes (a second, scrubbing pass only when needed)."""
    try:
        return json.dumps(
            value, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()
    except (UnicodeEncodeError, ValueError):
        return json.dumps(
            _clean(value), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()


class SafeJSONResponse(JSONResponse):
    """A JSONResponse whose body is `dumps(content)`."""

    def render(self, content: Any) -> bytes:
        return dumps(content)
