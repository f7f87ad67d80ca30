"""The server's persistent state: uploaded files (content on disk, metadata in SQLite).

Layout under the data directory (`serve --data-dir`, default $CODEXEC_DATA_DIR or
~/.local/share/codexec): `codexec.db` (SQLite), `files/<id>` (content), `uploads/<upload id>`
(uploads in progress). A restart loses nothing. Files expire `ttl_s` after upload (Gemini keeps
them 48 h); expired files and abandoned uploads are purged on the next access.
Interactions (interactions_api.py) are kept in the same database until deleted; those a stopped
server left running read as failed once a server opens the store again.
Every record has an `owner` (a hash of the API key that made it, "" without keys).
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import json
import os
import re
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.server.errors import ApiError, invalid
from agent.server.paging import offset_of, token_for

FILE_ID = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
_ID_CHARS = string.ascii_lowercase + string.digits

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, display_name TEXT, source_name TEXT,
    mime_type TEXT NOT NULL, size_bytes INTEGER NOT NULL, sha256 TEXT NOT NULL,
    create_time REAL NOT NULL, expire_time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_owner ON files (owner, create_time);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL, display_name TEXT,
    source_name TEXT, mime_type TEXT NOT NULL, size_bytes INTEGER NOT NULL,
    received INTEGER NOT NULL DEFAULT 0, create_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS interactions (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, create_time REAL NOT NULL,
    interaction TEXT NOT NULL, history TEXT NOT NULL
);
"""


def default_data_dir() -> Path:
    env = os.environ.get("CODEXEC_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "codexec"


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def no_access(name: str) -> ApiError:
    return ApiError(
        403,
        f"You do not have permission to access the File {name} or it may not exist "
        "(uploaded files expire after their expirationTime).",
    )


@dataclass
class FileRecord:
    name: str  # "files/<id>"
    owner: str
    display_name: str | None
    source_name: str | None  # the uploaded file's own name (X-Goog-Upload-File-Name)
    mime_type: str
    size_bytes: int
    sha256: str
    create_time: float
    expire_time: float

    def to_json(self, base_url: str) -> dict[str, Any]:
        """Gemini's File resource."""
        out: dict[str, Any] = {"name": self.name}
        if self.display_name:
            out["displayName"] = self.display_name
        out.update(
            mimeType=self.mime_type,
            sizeBytes=str(self.size_bytes),
            createTime=rfc3339(self.create_time),
            updateTime=rfc3339(self.create_time),
            expirationTime=rfc3339(self.expire_time),
            sha256Hash=base64.b64encode(self.sha256.encode()).decode(),
            uri=f"{base_url.rstrip('/')}/v1beta/{self.name}",
            state="ACTIVE",
            source="UPLOADED",
        )
        return out


class Store:
    def __init__(
        self,
        data_dir: Path,
        *,
        ttl_s: float = 48 * 3600,
        max_file_bytes: int = 50 * 2**20,
        max_total_bytes: int = 20 * 2**30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dir = Path(data_dir).expanduser()
        self.files_dir = self.dir / "files"
        self.uploads_dir = self.dir / "uploads"
        for d in (self.files_dir, self.uploads_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.ttl_s = ttl_s
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.clock = clock
        self.lock = threading.RLock()
        self.db = sqlite3.connect(
            str(self.dir / "codexec.db"), check_same_thread=False, isolation_level=None
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- uploads -----------------------------------------------------------------------------

    def start_upload(
        self,
        owner: str,
        *,
        name: str | None,
        display_name: str | None,
        source_name: str | None,
        mime_type: str,
        size_bytes: int,
    ) -> str:
        """Check the limits, reserve the name; the new upload's id."""
        if size_bytes < 0:
            raise invalid("The file size must not be negative.")
        if size_bytes > self.max_file_bytes:
            raise ApiError(
                413,
                f"File too large: {size_bytes} bytes; this server accepts files of up to "
                f"{self.max_file_bytes} bytes (serve --max-file-mb).",
            )
        with self.lock:
            self.purge()
            used = self._bytes_used(owner)
            if used + size_bytes > self.max_total_bytes:
                raise ApiError(
                    413,
                    f"Storage quota exceeded: {used} bytes of {self.max_total_bytes} are in use "
                    "and this file does not fit; delete files first (serve --max-files-gb).",
                )
            name = self._new_name(name)
            upload_id = secrets.token_urlsafe(24)
            self.db.execute(
                "INSERT INTO uploads (upload_id, owner, name, display_name, source_name, "
                "mime_type, size_bytes, create_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (upload_id, owner, name, display_name, source_name, mime_type, size_bytes,
                 self.clock()),
            )  # fmt: skip
            (self.uploads_dir / upload_id).write_bytes(b"")
            return upload_id

    def upload_status(self, upload_id: str) -> tuple[int, int]:
        """(bytes received, bytes expected) of an upload in progress."""
        row = self._upload(upload_id)
        return int(row["received"]), int(row["size_bytes"])

    def append(self, upload_id: str, offset: int, data: bytes) -> int:
        """Add a chunk at `offset`; the bytes received so far."""
        with self.lock:
            row = self._upload(upload_id)
            received, expected = int(row["received"]), int(row["size_bytes"])
            if offset != received:
                raise invalid(
                    f"Upload offset {offset} does not match the {received} bytes received."
                )
            if received + len(data) > expected:
                self.cancel(upload_id)
                raise invalid(
                    f"The upload is larger than the {expected} bytes announced when it started."
                )
            with open(self.uploads_dir / upload_id, "ab") as f:
                f.write(data)
            received += len(data)
            self.db.execute(
                "UPDATE uploads SET received = ? WHERE upload_id = ?", (received, upload_id)
            )
            return received

    def finalize(self, upload_id: str) -> FileRecord:
        with self.lock:
            row = self._upload(upload_id)
            if int(row["received"]) != int(row["size_bytes"]):
                self.cancel(upload_id)
                raise invalid(
                    f"The upload ended after {row['received']} of the {row['size_bytes']} bytes "
                    "announced when it started."
                )
            part = self.uploads_dir / upload_id
            digest = hashlib.sha256(part.read_bytes()).hexdigest()
            now = self.clock()
            record = FileRecord(
                name=row["name"], owner=row["owner"], display_name=row["display_name"],
                source_name=row["source_name"], mime_type=row["mime_type"],
                size_bytes=int(row["size_bytes"]), sha256=digest, create_time=now,
                expire_time=now + self.ttl_s,
            )  # fmt: skip
            os.replace(part, self._content(record.name))
            self.db.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.name, record.owner, record.display_name, record.source_name,
                 record.mime_type, record.size_bytes, record.sha256, record.create_time,
                 record.expire_time),
            )  # fmt: skip
            self.db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            return record

    def cancel(self, upload_id: str) -> None:
        """Drop an upload in progress (404 if there is none: ids come from clients)."""
        with self.lock:
            known = self._upload(upload_id)["upload_id"]  # never a client's path as given
            self.db.execute("DELETE FROM uploads WHERE upload_id = ?", (known,))
            (self.uploads_dir / known).unlink(missing_ok=True)

    # --- files -------------------------------------------------------------------------------

    def get(self, owner: str, name: str) -> FileRecord:
        name = normalize_name(name)
        with self.lock:
            self.purge()
            row = self.db.execute("SELECT * FROM files WHERE name = ?", (name,)).fetchone()
        if row is None or row["owner"] != owner:
            raise no_access(name)
        return FileRecord(**dict(row))

    def read(self, owner: str, name: str) -> tuple[FileRecord, bytes]:
        record = self.get(owner, name)
        try:
            return record, self._content(record.name).read_bytes()
        except FileNotFoundError:  # its content was removed behind our back: forget it
            self._forget(record.name)
            raise no_access(record.name) from None

    def list(
        self, owner: str, page_size: int, page_token: str | None
    ) -> tuple[list[FileRecord], str | None]:
        """Newest first; (a page, the next page's token or None)."""
        start = offset_of(page_token)
        with self.lock:
            self.purge()
            rows = self.db.execute(
                "SELECT * FROM files WHERE owner = ? ORDER BY create_time DESC, name "
                "LIMIT ? OFFSET ?",
                (owner, page_size + 1, start),
            ).fetchall()
        records = [FileRecord(**dict(r)) for r in rows[:page_size]]
        more = len(rows) > page_size
        token = token_for(start + page_size) if more else None
        return records, token

    def delete(self, owner: str, name: str) -> None:
        record = self.get(owner, name)
        self._forget(record.name)

    def purge(self) -> None:
        """Drop expired files and uploads abandoned for longer than the files' lifetime."""
        now = self.clock()
        with self.lock:
            for row in self.db.execute(
                "SELECT name FROM files WHERE expire_time <= ?", (now,)
            ).fetchall():
                self._forget(row["name"])
            for row in self.db.execute(
                "SELECT upload_id FROM uploads WHERE create_time <= ?", (now - self.ttl_s,)
            ).fetchall():
                self.cancel(row["upload_id"])

    # --- interactions (interactions_api.py) ----------------------------------------------------

    # `list` below is the method above, so the builtin is spelled builtins.list
    def put_interaction(
        self, owner: str, interaction: dict[str, Any], history: builtins.list[Any]
    ) -> None:
        """Keep an interaction (its JSON) and the conversation after it (for continuations)."""
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO interactions VALUES (?, ?, ?, ?, ?)",
                (interaction["id"], owner, self.clock(), json.dumps(interaction),
                 json.dumps(history)),
            )  # fmt: skip

    def get_interaction(
        self, owner: str, interaction_id: str
    ) -> tuple[dict[str, Any], builtins.list[Any]]:
        with self.lock:
            row = self.db.execute(
                "SELECT * FROM interactions WHERE id = ?", (interaction_id,)
            ).fetchone()
        if row is None or row["owner"] != owner:
            raise ApiError(404, f"Interaction {interaction_id!r} not found.")
        return json.loads(row["interaction"]), json.loads(row["history"])

    def fail_unfinished_interactions(self) -> int:
        """Interactions left `in_progress` by a server that stopped: `failed` now (their runs
        are gone). Called when a server opens the store. How many there were."""
        message = "The server stopped while this interaction was running."
        with self.lock:
            rows = self.db.execute(
                "SELECT id, interaction FROM interactions WHERE interaction LIKE ?",
                ('%"in_progress"%',),
            ).fetchall()
            count = 0
            for row in rows:
                interaction = json.loads(row["interaction"])
                if interaction.get("status") != "in_progress":
                    continue
                interaction["status"] = "failed"
                interaction["errors"] = [{"code": "UNAVAILABLE", "message": message}]
                interaction["updated"] = rfc3339(self.clock())
                self.db.execute(
                    "UPDATE interactions SET interaction = ? WHERE id = ?",
                    (json.dumps(interaction), row["id"]),
                )
                count += 1
            return count

    def delete_interaction(self, owner: str, interaction_id: str) -> None:
        self.get_interaction(owner, interaction_id)
        with self.lock:
            self.db.execute("DELETE FROM interactions WHERE id = ?", (interaction_id,))

    # --- helpers -----------------------------------------------------------------------------

    def _forget(self, name: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM files WHERE name = ?", (name,))
            self._content(name).unlink(missing_ok=True)

    def _content(self, name: str) -> Path:
        return self.files_dir / name.removeprefix("files/")

    def _upload(self, upload_id: str) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
        if row is None:
            raise ApiError(404, "No such upload (it finished, failed, or was cancelled).")
        return row

    def _bytes_used(self, owner: str) -> int:
        files = self.db.execute(
            "SELECT COALESCE(SUM(size_bytes), 0) FROM files WHERE owner = ?", (owner,)
        ).fetchone()[0]
        uploads = self.db.execute(
            "SELECT COALESCE(SUM(size_bytes), 0) FROM uploads WHERE owner = ?", (owner,)
        ).fetchone()[0]
        return int(files) + int(uploads)

    def _new_name(self, name: str | None) -> str:
        if name is None:
            while True:
                candidate = "files/" + "".join(secrets.choice(_ID_CHARS) for _ in range(12))
                if not self._taken(candidate):
                    return candidate
        name = normalize_name(name)
        if self._taken(name):
            raise ApiError(409, f"A file named {name} already exists.", "ALREADY_EXISTS")
        return name

    def _taken(self, name: str) -> bool:
        sql = "SELECT 1 FROM files WHERE name = ? UNION SELECT 1 FROM uploads WHERE name = ?"
        return self.db.execute(sql, (name, name)).fetchone() is not None


def normalize_name(name: str) -> str:
    """`files/<id>` from `<id>` or `files/<id>`; 400 for anything else."""
    file_id = name.removeprefix("files/")
    if not FILE_ID.fullmatch(file_id):
        raise invalid(
            f"Invalid file name {name!r}: use files/ID, ID being 1 to 40 lowercase letters, "
            "digits or dashes (not first or last)."
        )
    return f"files/{file_id}"
