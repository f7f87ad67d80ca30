"""Connection hygiene uvicorn lacks: read deadlines for a request's headers and body, and a cap
on open connections that sheds the slow ones first.

uvicorn has `timeout_keep_alive` (idle time between requests) and `limit_concurrency` (which
answers 503 to *requests* once too many connections are open, so 200 half-sent requests would
lock real clients out). Its h11 protocol waits forever for the rest of a request's headers or
body. `protocol_class()` returns an H11Protocol subclass that
- closes a connection whose request headers are not complete `header_timeout_s` after its
  first byte (or after it was opened), and one whose body is not complete `body_timeout_s`
  after its headers: slowloris connections go away;
- keeps at most `max_connections` open: a new connection beyond that closes the oldest one
  still sending its headers (slow or idle, none of the server's work is lost), else is refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("agent.server")


class GuardedH11Protocol(H11Protocol):
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_connections: int = 512

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_for: Any = None  # the h11 state the running deadline waits to leave
        self.opened_at = time.monotonic()

    # -- deadlines ---------------------------------------------------------------------------
    def _set_deadline(self, state: Any) -> None:
        if self._deadline_for is state:
            return
        self._cancel_deadline()
        seconds = self.header_timeout_s if state is h11.IDLE else self.body_timeout_s
        self._deadline_for = state
        self._deadline = self.loop.call_later(seconds, self._on_deadline, state)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._deadline_for = None

    def _track(self) -> None:
        state = self.conn.their_state
        if state in (h11.IDLE, h11.SEND_BODY):
            self._set_deadline(state)
        else:
            self._cancel_deadline()  # the request is read (or the connection is ending)

    def _on_deadline(self, state: Any) -> None:
        self._deadline = None
        self._deadline_for = None
        if self.conn.their_state is state and not self.transport.is_closing():
            what = "headers" if state is h11.IDLE else "body"
            log.info("closing a connection that did not send its request %s in time", what)
            self.transport.close()

    # -- uvicorn hooks -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self._shed_one():
            log.warning(
                "connection limit (%d) reached: refusing a connection", self.max_connections
            )
            transport.close()
            return
        self._set_deadline(h11.IDLE)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._deadline_for is not h11.IDLE:
            self._set_deadline(h11.IDLE)  # a keep-alive connection starts its next request
        super().data_received(data)
        if not self.transport.is_closing():
            self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._cancel_deadline()  # idle again: uvicorn's keep-alive timeout applies

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def _shed_one(self) -> bool:
        """Close the oldest other connection still sending its headers; False if none is."""
        waiting = [
            c
            for c in self.connections
            if c is not self
            and isinstance(c, GuardedH11Protocol)
            and c.conn.their_state is h11.IDLE
            and (c.cycle is None or c.cycle.response_complete)
            and not c.transport.is_closing()
        ]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda c: c.opened_at)
        oldest.transport.close()
        oldest.connections.discard(oldest)
        return True


def protocol_class(
    header_timeout_s: float, body_timeout_s: float, max_connections: int
) -> type[GuardedH11Protocol]:
    """A GuardedH11Protocol with these settings (uvicorn.Config(http=...) takes a class)."""
    return type(
        "ConfiguredH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout_s": header_timeout_s,
            "body_timeout_s": body_timeout_s,
            "max_connections": max_connections,
        },
    )
