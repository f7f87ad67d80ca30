"""Cancelling a model call that is already running.

The agent loop runs each model call in a worker thread inside `scope(event)`; it sets the event
when it stops waiting for the call (the time budget ran out, the event stream was closed, Ctrl-C).
A backend that generates in-process (the embedded llama.cpp model) checks `cancelled()` between
tokens, and llama.cpp's abort callback checks it during a long prompt evaluation, so the call ends
within a token instead of decoding on, holding the model, after nobody waits for it any more.

A context variable rather than a `generate` argument: every backend keeps the `Model` signature,
and a worker thread sees only the scope its own call was started in.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from agent.models.base import ModelError

_current: ContextVar[threading.Event | None] = ContextVar("codexec_cancel", default=None)


class Cancelled(ModelError):
    """The model call was cancelled by its caller (nobody waits for its answer any more)."""

    def __init__(self, message: str = "the model call was cancelled") -> None:
        super().__init__(message)


@contextlib.contextmanager
def scope(event: threading.Event) -> Iterator[threading.Event]:
    """Model calls made inside (in this thread) stop soon after `event` is set."""
    token = _current.set(event)
    try:
        yield event
    finally:
        _current.reset(token)


def current() -> threading.Event | None:
    """The event of the innermost `scope` of this thread, if any."""
    return _current.get()


def cancelled() -> bool:
    event = _current.get()
    return event is not None and event.is_set()
