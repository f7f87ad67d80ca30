"""Gemini's Files API, as `client.files.upload/get/list/delete` call it, and `fileData` parts.

    POST   /upload/v1beta/files                    resumable upload: start (returns the
                                                   X-Goog-Upload-URL), then upload/finalize
                                                   chunks POSTed to that URL (?upload_id=...)
    GET    /v1beta/files?pageSize=&pageToken=      newest first; pageSize 1..100, default 10
    GET    /v1beta/files/{id}
    DELETE /v1beta/files/{id}

A `fileData` part whose `fileUri` names an uploaded file (`{base}/v1beta/files/{id}`, or
`files/{id}`) becomes the same part as inline data: a file in the sandbox, named after its
displayName, else the uploaded file's own name. Files belong to the API key that uploaded them.
Storage is store.py's (a data directory: SQLite metadata, content on disk).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.parts import ImagePart, Part
from agent.server.config import ServerConfig
from agent.server.errors import ApiError, invalid
from agent.server.store import Store, default_data_dir
from agent.server.wire import FileResolver

UPLOAD_STATUS = "X-Goog-Upload-Status"
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10
_FILE_URI = re.compile(r"(?:^|/)(files/[a-z0-9-]+)/?$")


def register(app: FastAPI, config: ServerConfig) -> None:
    """Add the Files API routes (the store opens on first use)."""

    @app.post("/upload/{version}/files")
    async def upload(version: str, request: Request) -> Response:
        upload_id = request.query_params.get("upload_id")
        if upload_id:
            try:
                return await _upload_chunk(request, store_of(request), upload_id)
            except ApiError as e:  # a status header stops the SDK from retrying the chunk
                return e.response({UPLOAD_STATUS: "final"})
        _guard(request, version, config)
        return await _start_upload(request, store_of(request), owner_of(request, config))

    @app.get("/{version}/files")
    async def list_files(version: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        size_text = request.query_params.get("pageSize") or str(DEFAULT_PAGE_SIZE)
        if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            raise invalid(f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}.")
        records, token = store_of(request).list(
            owner_of(request, config), int(size_text), request.query_params.get("pageToken")
        )
        out: dict[str, Any] = {"files": [r.to_json(_base(request)) for r in records]}
        if token:
            out["nextPageToken"] = token
        return out

    @app.get("/{version}/files/{file_id}")
    async def get_file(version: str, file_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        if file_id.endswith(":download"):
            raise invalid("Only generated files can be downloaded; uploaded files cannot.")
        record = store_of(request).get(owner_of(request, config), file_id)
        return record.to_json(_base(request))

    @app.delete("/{version}/files/{file_id}")
    async def delete_file(version: str, file_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        store_of(request).delete(owner_of(request, config), file_id)
        return {}


def store_of(request: Request) -> Store:
    """The app's store, opened on first use (servers that never see a file touch no disk)."""
    app = request.app
    store = getattr(app.state, "store", None)
    if store is None:
        config: ServerConfig = app.state.config
        store = Store(
            config.data_dir or default_data_dir(),
            ttl_s=config.file_ttl_s,
            max_file_bytes=config.max_file_bytes,
            max_total_bytes=config.max_files_bytes,
        )
        store.fail_unfinished_interactions()  # no run of this app is going yet
        app.state.store = store
    return store


def given_key(request: Request) -> str | None:
    """The API key a request carries (as http._check_key reads it)."""
    auth = request.headers.get("authorization", "")
    return (
        request.headers.get("x-goog-api-key")
        or request.query_params.get("key")
        or (auth[7:].strip() if auth.lower().startswith("bearer ") else None)
    )


def owner_of(request: Request, config: ServerConfig) -> str:
    """Whose files these are: a hash of the request's API key when keys are configured."""
    if not config.api_key:
        return ""
    return hashlib.sha256((given_key(request) or "").encode()).hexdigest()[:32]


def file_resolver(request: Request) -> FileResolver:
    """For parse_request: fileData parts of this request -> parts holding the files' bytes."""
    config: ServerConfig = request.app.state.config

    def resolve(file_data: dict[str, Any], where: str) -> Part:
        uri = file_data.get("fileUri", file_data.get("file_uri"))
        if not isinstance(uri, str) or not uri:
            raise invalid(f"{where}.fileUri: required (the uri of an uploaded file)")
        match = _FILE_URI.search(uri.split("?", 1)[0])
        if match is None:
            raise invalid(
                f"{where}.fileUri: {uri!r} is not a file of this server; upload it with "
                "files.upload and pass the returned uri (or send the bytes as inlineData)"
            )
        record, data = store_of(request).read(owner_of(request, config), match.group(1))
        return ImagePart(
            mime_type=record.mime_type,
            data=base64.b64encode(data).decode(),
            name=record.display_name or record.source_name or record.name.split("/")[1],
        )

    return resolve


async def _start_upload(request: Request, store: Store, owner: str) -> Response:
    protocol = request.headers.get("x-goog-upload-protocol", "").lower()
    command = request.headers.get("x-goog-upload-command", "").lower()
    if protocol != "resumable" or command != "start":
        raise invalid(
            "This server takes uploads with the resumable protocol (X-Goog-Upload-Protocol: "
            "resumable, X-Goog-Upload-Command: start), as google-genai's files.upload sends."
        )
    body = await _json_body(request)
    meta = body.get("file") or {}
    if not isinstance(meta, dict):
        raise invalid("file: must be a JSON object (the File's metadata)")
    size_text = request.headers.get("x-goog-upload-header-content-length") or str(
        meta.get("sizeBytes", meta.get("size_bytes", ""))
    )
    if not size_text.isdigit():
        raise invalid("X-Goog-Upload-Header-Content-Length: the file's size in bytes is required")
    mime = (
        request.headers.get("x-goog-upload-header-content-type")
        or meta.get("mimeType")
        or meta.get("mime_type")
        or "application/octet-stream"
    )
    upload_id = store.start_upload(
        owner,
        name=_opt_str(meta, "name"),
        display_name=_opt_str(meta, "displayName", "display_name"),
        source_name=request.headers.get("x-goog-upload-file-name") or None,
        mime_type=str(mime),
        size_bytes=int(size_text),
    )
    url = f"{_base(request)}/upload/{request.path_params['version']}/files"
    return Response(
        status_code=200,
        headers={
            "X-Goog-Upload-URL": f"{url}?upload_id={upload_id}&upload_protocol=resumable",
            UPLOAD_STATUS: "active",
            "X-Goog-Upload-Chunk-Granularity": str(8 * 2**20),
        },
    )


async def _upload_chunk(request: Request, store: Store, upload_id: str) -> Response:
    commands = {c.strip() for c in request.headers.get("x-goog-upload-command", "").split(",")}
    if "query" in commands:
        received, _ = store.upload_status(upload_id)
        return Response(
            headers={UPLOAD_STATUS: "active", "X-Goog-Upload-Size-Received": str(received)}
        )
    if "cancel" in commands:
        store.cancel(upload_id)
        return Response(headers={UPLOAD_STATUS: "cancelled"})
    if not commands & {"upload", "finalize"}:
        raise invalid("X-Goog-Upload-Command: expected upload, finalize, query or cancel")
    received, expected = store.upload_status(upload_id)
    offset_text = request.headers.get("x-goog-upload-offset", str(received))
    if not offset_text.isdigit():
        raise invalid("X-Goog-Upload-Offset: must be a byte offset")
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if received + len(data) > expected:
            store.cancel(upload_id)
            raise invalid(f"The upload is larger than the {expected} bytes announced at its start.")
    if "upload" in commands:
        received = store.append(upload_id, int(offset_text), bytes(data))
    if "finalize" not in commands:
        return Response(
            headers={UPLOAD_STATUS: "active", "X-Goog-Upload-Size-Received": str(received)}
        )
    record = store.finalize(upload_id)
    return JSONResponse({"file": record.to_json(_base(request))}, headers={UPLOAD_STATUS: "final"})


def _guard(request: Request, version: str, config: ServerConfig) -> None:
    from agent.server import http

    http._check_version(version)
    http._check_key(request, config)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > 2**20:
        raise ApiError(413, "The upload's metadata is larger than 1 MB.")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise invalid(f"Invalid JSON payload received: {e}") from None
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload: the request body must be a JSON object.")
    return body


def _opt_str(meta: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = meta.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise invalid(f"file.{keys[0]}: must be a string")
            return value or None
    return None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")
