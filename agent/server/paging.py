"""Offset paging for list methods (`page_size` / `page_token`, also camelCase): the token is the
next offset, base64-encoded, as opaque to clients as Gemini's."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TypeVar

from agent.server.errors import invalid

T = TypeVar("T")


def page_of(
    items: Sequence[T], query: Mapping[str, str], *, default: int, maximum: int
) -> tuple[list[T], str | None]:
    """The page of `items` the query asks for, and the next page's token (None on the last)."""
    size_text = query.get("page_size") or query.get("pageSize") or str(default)
    if not size_text.isdigit() or not 1 <= int(size_text) <= maximum:
        raise invalid(f"page_size must be an integer from 1 to {maximum}.")
    start = offset_of(query.get("page_token") or query.get("pageToken"))
    page = list(items[start : start + int(size_text)])
    more = start + len(page) < len(items)
    return page, token_for(start + len(page)) if more else None


def offset_of(token: str | None) -> int:
    """Where the page a token names starts (0 without a token); a 400 for a token we never gave."""
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"Invalid page token {token!r}.") from None


def token_for(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()
