"""Live API session resumption: a session's conversation kept under a handle, so that a client
that reconnects with `sessionResumption.handle` continues where it left off, also after a
server restart.

Table `live_sessions` in the server's SQLite store (store.py). After every complete turn the
server stores the conversation under a new handle, sends it as
`{"sessionResumptionUpdate": {"newHandle": ..., "resumable": true}}` and drops the session's
previous handle. A handle is valid for `TTL_S` after it was issued (Gemini: 2 hours), only for
the API key that made it, and only for the same model.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from agent.server.errors import ApiError
from agent.server.store import Store

TTL_S = 2 * 3600.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS live_sessions (
    handle TEXT PRIMARY KEY, owner TEXT NOT NULL, model TEXT NOT NULL,
    contents TEXT NOT NULL, update_time REAL NOT NULL
);
"""


class LiveResume:
    def __init__(self, store: Store, ttl_s: float = TTL_S) -> None:
        self.store = store
        self.ttl_s = ttl_s
        with store.lock:
            store.db.executescript(SCHEMA)

    def save(
        self, owner: str, model: str, contents: list[dict[str, Any]], previous: str | None
    ) -> str:
        """Keep `contents` under a new handle (the session's `previous` one is dropped)."""
        handle = "live-" + secrets.token_urlsafe(24)
        with self.store.lock:
            self._purge()
            self.store.db.execute(
                "INSERT INTO live_sessions VALUES (?, ?, ?, ?, ?)",
                (handle, owner, model, json.dumps(contents), self.store.clock()),
            )
            if previous:
                self.store.db.execute("DELETE FROM live_sessions WHERE handle = ?", (previous,))
        return handle

    def load(self, owner: str, model: str, handle: str) -> list[dict[str, Any]]:
        """The conversation kept under `handle`; 400 for an unknown, expired or foreign one."""
        with self.store.lock:
            self._purge()
            row = self.store.db.execute(
                "SELECT * FROM live_sessions WHERE handle = ?", (handle,)
            ).fetchone()
        if row is None or row["owner"] != owner:
            raise ApiError(
                400,
                "Unknown session resumption handle (handles expire 2 hours after they were "
                "issued, and only the latest of a session is valid).",
            )
        if row["model"] != model:
            raise ApiError(400, f"This session was with model {row['model']!r}, not {model!r}.")
        contents: list[dict[str, Any]] = json.loads(row["contents"])
        return contents

    def _purge(self) -> None:
        self.store.db.execute(
            "DELETE FROM live_sessions WHERE update_time < ?", (self.store.clock() - self.ttl_s,)
        )
