"""The files of an environment, as google-genai's `client.environments.files.list` reads them.

    GET /v1beta/environments/{id}/files/{path}?recursive=&page_size=&page_token=   (also /v1)
    GET /v1beta/environments/{id}/files/{path}?alt=media                          the content

They are read from the environment's snapshot: the copy of its workspace saved on disk after
each interaction that ran in it (and when its session is suspended), as Gemini's API serves
them. A directory lists its entries (every file below it with `recursive`), a file its own
entry; a path outside the workspace is a 400, a missing one a 404.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from agent.server import files_api
from agent.server.config import ServerConfig
from agent.server.errors import ApiError, invalid
from agent.server.paging import page_of
from agent.server.store import rfc3339

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def register(app: FastAPI, config: ServerConfig) -> None:
    @app.get("/{version}/environments/{env_id}/files")
    @app.get("/{version}/environments/{env_id}/files/{path:path}")
    async def list_files(version: str, env_id: str, request: Request, path: str = "") -> Any:
        from agent.server.environments_api import _guard, manager_of

        _guard(request, version, config)
        manager = manager_of(request)
        record = manager.store.get(files_api.owner_of(request, config), env_id)
        root = manager.store.files_dir(record.id)
        target = _inside(root, path)
        query = request.query_params
        if query.get("alt") == "media":
            if not target.is_file():
                raise ApiError(400, f"alt=media needs a file; {path or '/'} is a directory.")
            return Response(target.read_bytes(), media_type=_mime(target))
        if target.is_file():
            return {"files": [_entry(root, target)]}
        recursive = query.get("recursive", "").lower() in ("1", "true")
        found = sorted(target.rglob("*") if recursive else target.iterdir())
        entries = [p for p in found if not p.is_symlink() and not (recursive and p.is_dir())]
        page, token = page_of(entries, query, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE)
        out: dict[str, Any] = {"files": [_entry(root, p) for p in page]}
        if token:
            out["next_page_token"] = token
        return out


def _inside(root: Path, path: str) -> Path:
    """`path` under the snapshot's root; never outside it, never through a link."""
    relative = path.strip("/")
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    if ".." in parts or "\x00" in relative:
        raise invalid(f"path {path!r} is outside the environment's workspace.")
    target = root.joinpath(*parts)
    if target.is_symlink() or not target.exists():
        raise ApiError(404, f"No file or directory {relative or '/'!r} in this environment.")
    return target


def _entry(root: Path, path: Path) -> dict[str, Any]:
    stat = path.stat()
    is_file = path.is_file()
    entry: dict[str, Any] = {
        "name": path.name,
        "path": path.relative_to(root).as_posix(),
        "type": "file" if is_file else "directory",
        "size_bytes": str(stat.st_size if is_file else 0),
        "modified": rfc3339(stat.st_mtime),
        "created": rfc3339(stat.st_ctime),
    }
    if is_file:
        entry["mime_type"] = _mime(path)
    return entry


def _mime(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"
