"""Environments' persistent half: metadata in the server's SQLite store, files on disk.

Table `environments` in `codexec.db` (store.py's database); each environment's files are
mirrored under `<data dir>/environments/<id>/` after every run, so a suspended environment (or
one that outlived a restart) gets them back in its next session. An environment expires
`ttl_s` after it was last used (created or run in); expired ones are purged on the
next access or by the manager's sweep (environments.py).
"""

from __future__ import annotations

import base64
import builtins
import json
import os
import re
import secrets
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.server.errors import ApiError, invalid
from agent.server.store import Store, rfc3339

ENV_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS environments (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, create_time REAL NOT NULL,
    update_time REAL NOT NULL, last_accessed REAL NOT NULL,
    had_session INTEGER NOT NULL DEFAULT 0, config TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS environments_by_owner ON environments (owner, create_time);
"""


@dataclass
class EnvRecord:
    id: str
    owner: str
    create_time: float
    update_time: float
    last_accessed: float
    had_session: bool  # code ran in a session whose variables a restart or suspension loses
    config: dict[str, Any]


def env_id_of(name: str) -> str:
    """`ID` from `ID` or `environments/ID`; 400 for anything else."""
    env_id = str(name).removeprefix("environments/")
    if not ENV_ID.fullmatch(env_id):
        raise invalid(f"Invalid environment id {name!r}.")
    return env_id


def not_found(env_id: str) -> ApiError:
    return ApiError(
        404,
        f"Environment {env_id!r} not found (it was deleted, expired after its time to live, "
        "or belongs to another API key).",
    )


class EnvStore:
    def __init__(self, store: Store, ttl_s: float) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.dir = store.dir / "environments"
        self.dir.mkdir(parents=True, exist_ok=True)
        with store.lock:
            store.db.executescript(SCHEMA)

    @property
    def lock(self) -> Any:
        return self.store.lock

    def now(self) -> float:
        return self.store.clock()

    def files_dir(self, env_id: str) -> Path:
        return self.dir / env_id_of(env_id)

    # --- records -----------------------------------------------------------------------------

    def create(self, owner: str, config: dict[str, Any], limit: int) -> EnvRecord:
        with self.lock:
            count = self.store.db.execute(
                "SELECT COUNT(*) FROM environments WHERE owner = ?", (owner,)
            ).fetchone()[0]
            if count >= limit:
                raise ApiError(
                    429,
                    f"Resource has been exhausted: this API key has {count} environments, the "
                    f"limit (serve --max-environments {limit}); delete one first.",
                )
            env_id = "env-" + secrets.token_hex(8)
            now = self.now()
            record = EnvRecord(env_id, owner, now, now, now, False, config)
            self.store.db.execute(
                "INSERT INTO environments VALUES (?, ?, ?, ?, ?, ?, ?)",
                (env_id, owner, now, now, now, 0, json.dumps(config)),
            )
        self.files_dir(env_id).mkdir(parents=True, exist_ok=True)
        return record

    def get(self, owner: str, env_id: str) -> EnvRecord:
        env_id = env_id_of(env_id)
        with self.lock:
            row = self.store.db.execute(
                "SELECT * FROM environments WHERE id = ?", (env_id,)
            ).fetchone()
        if row is None or row["owner"] != owner:
            raise not_found(env_id)
        record = _record(row)
        if record.last_accessed + self.ttl_s <= self.now():
            self.forget(record.id)
            raise not_found(env_id)
        return record

    def list(self, owner: str) -> builtins.list[EnvRecord]:
        with self.lock:
            rows = self.store.db.execute(
                "SELECT * FROM environments WHERE owner = ? AND last_accessed > ? "
                "ORDER BY create_time DESC, id",
                (owner, self.now() - self.ttl_s),
            ).fetchall()
        return [_record(r) for r in rows]

    def touch(self, env_id: str, *, had_session: bool | None = None, used: bool = True) -> None:
        """Record a use (last_accessed, and updated when it ran) and whether a session holds
        state worth losing."""
        now = self.now()
        with self.lock:
            if used:
                self.store.db.execute(
                    "UPDATE environments SET last_accessed = ?, update_time = ? WHERE id = ?",
                    (now, now, env_id),
                )
            if had_session is not None:
                self.store.db.execute(
                    "UPDATE environments SET had_session = ? WHERE id = ?",
                    (int(had_session), env_id),
                )

    def expired(self) -> builtins.list[str]:
        """Ids of environments past their time to live."""
        with self.lock:
            rows = self.store.db.execute(
                "SELECT id FROM environments WHERE last_accessed <= ?", (self.now() - self.ttl_s,)
            ).fetchall()
        return [r["id"] for r in rows]

    def forget(self, env_id: str) -> None:
        """Delete the record and its files."""
        with self.lock:
            self.store.db.execute("DELETE FROM environments WHERE id = ?", (env_id,))
        shutil.rmtree(self.files_dir(env_id), ignore_errors=True)

    # --- files -------------------------------------------------------------------------------

    def saved_files(self, env_id: str) -> dict[str, bytes]:
        """The environment's files as last mirrored (relative path -> content)."""
        root = self.files_dir(env_id)
        out: dict[str, bytes] = {}
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                out[path.relative_to(root).as_posix()] = path.read_bytes()
        return out

    def save_files(self, env_id: str, files: dict[str, bytes]) -> None:
        """Make the mirror exactly `files` (written to a new directory, then swapped in)."""
        root = self.files_dir(env_id)
        fresh = root.with_name(f".{root.name}.new")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
        for name, data in files.items():
            target = fresh / name
            if fresh not in target.resolve().parents:
                continue  # never outside the mirror (names come from the sandbox's listing)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        old = root.with_name(f".{root.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if root.exists():
            os.replace(root, old)
        os.replace(fresh, root)
        shutil.rmtree(old, ignore_errors=True)

    def file_stats(self, env_id: str) -> tuple[int, int]:
        """(file count, total bytes) of the mirror."""
        count = size = 0
        for path in self.files_dir(env_id).rglob("*"):
            if path.is_file() and not path.is_symlink():
                count += 1
                size += path.stat().st_size
        return count, size

    def to_json(self, record: EnvRecord, state: str) -> dict[str, Any]:
        """The SDK's Environment resource (plus `state`: running, suspended or new)."""
        count, size = self.file_stats(record.id)
        out: dict[str, Any] = {
            "id": record.id,
            "created": rfc3339(record.create_time),
            "updated": rfc3339(record.update_time),
            "last_accessed": rfc3339(record.last_accessed),
            "status": "active",
            "mode": "on_demand",
            "network": "disabled",
            "file_count": count,
            "size_bytes": size,
            "state": state,
            "expire_time": rfc3339(record.last_accessed + self.ttl_s),
        }
        if record.config.get("sources"):
            out["sources"] = record.config["sources"]
        return out


def _record(row: sqlite3.Row) -> EnvRecord:
    return EnvRecord(
        id=row["id"],
        owner=row["owner"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        last_accessed=row["last_accessed"],
        had_session=bool(row["had_session"]),
        config=json.loads(row["config"]),
    )


def source_files(sources: Any) -> dict[str, bytes]:
    """`sources` of create / an interaction's environment: only `inline` ones are supported
    (`content`, optional `encoding: base64`, `target` the file's path)."""
    if sources is None:
        return {}
    if not isinstance(sources, list):
        raise invalid("sources: must be a list")
    out: dict[str, bytes] = {}
    for i, source in enumerate(sources):
        if not isinstance(source, dict) or source.get("type", "inline") != "inline":
            kind = source.get("type") if isinstance(source, dict) else source
            raise invalid(
                f"sources[{i}]: type {kind!r} is not supported by this server; use inline "
                "sources (content, target) or upload files with the Files API"
            )
        target = source.get("target")
        if not isinstance(target, str) or not target.strip("/"):
            raise invalid(f"sources[{i}].target: required (the file's path in the environment)")
        parts = [p for p in target.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise invalid(f"sources[{i}].target: {target!r} must stay inside the environment")
        content = source.get("content") or ""
        if not isinstance(content, str):
            raise invalid(f"sources[{i}].content: must be a string")
        if source.get("encoding") == "base64":
            try:
                data = base64.b64decode(content + "=" * (-len(content) % 4))
            except ValueError:
                raise invalid(f"sources[{i}].content: not valid base64") from None
        else:
            data = content.encode()
        out["/".join(parts)] = data
    return out
