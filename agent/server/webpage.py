"""The web page at `/`: a conversation with code execution on this server's own Gemini API.

Plain HTML, CSS and JS shipped as package data (`agent/server/static/`): no build step, and a
Content-Security-Policy that keeps the page from reaching anything but this server.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

from agent.server.errors import not_found

ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    ),
}


def asset(name: str) -> bytes:
    """The shipped bytes of one of the page's files."""
    return (resources.files("agent.server") / "static" / name).read_bytes()


def add_webpage(app: FastAPI) -> None:
    """Serve the page at `/` and its script and style sheet under `/ui/`."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return _response("index.html")

    @app.get("/ui/{name}", include_in_schema=False)
    async def ui_file(name: str) -> Response:
        if name not in ASSETS or name == "index.html":
            raise not_found(f"No such file: /ui/{name}")
        return _response(name)


def _response(name: str) -> Response:
    return Response(asset(name), media_type=ASSETS[name], headers=HEADERS)
