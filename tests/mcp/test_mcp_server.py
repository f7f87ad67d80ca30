"""The MCP server, driven by the official `mcp` client over stdio (a real server process)."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ImageContent, TextContent

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@asynccontextmanager
async def connect(*options: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "agent", "mcp", *options], cwd=str(REPO)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def test_lists_run_python_with_its_schema() -> None:
    async with connect() as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert {"run_python", "list_files", "read_file"} <= set(tools)
    schema = tools["run_python"].input_schema
    assert schema["required"] == ["code"]
    assert schema["properties"]["code"]["type"] == "string"
    assert "files" not in schema["required"]
    file_schema = schema["$defs"]["InputFileArg"]
    assert set(file_schema["required"]) == {"name", "content_base64"}
    assert {p["type"] for p in file_schema["properties"].values()} == {"string"}
    assert "sandbox" in (tools["run_python"].description or "")


async def test_run_state_errors_and_files_in_one_session() -> None:
    csv = base64.b64encode(b"x,y\n1,2\n3,4\n").decode()
    async with connect() as session:
        result = await session.call_tool("run_python", {"code": "print(6*7)"})
        assert not result.is_error
        assert "OUTCOME_OK" in text_of(result)
        assert "42" in text_of(result)

        # state persists across calls of one client
        await session.call_tool("run_python", {"code": "x = 41"})
        result = await session.call_tool("run_python", {"code": "print(x + 1)"})
        assert "42" in text_of(result)

        # an error comes back as the traceback, flagged as an error
        result = await session.call_tool("run_python", {"code": "y = 1\n1 / 0"})
        assert result.is_error
        text = text_of(result)
        assert "OUTCOME_FAILED" in text and "ZeroDivisionError" in text
        assert "Traceback" in text

        # input files are readable by the code, and then listed and readable by the tools
        files = [{"name": "data.csv", "content_base64": csv}]
        code = "import pandas as pd\ndf = pd.read_csv('data.csv')\nprint(df['y'].sum())"
        result = await session.call_tool("run_python", {"code": code, "files": files})
        assert not result.is_error, text_of(result)
        assert "6" in text_of(result)
        listing = text_of(await session.call_tool("list_files", {}))
        assert "data.csv" in listing
        content = text_of(await session.call_tool("read_file", {"name": "data.csv"}))
        assert content == "x,y\n1,2\n3,4\n"

        # raw writes to the process's fd 1 are captured, never mixed into the protocol stream
        result = await session.call_tool("run_python", {"code": "import os\nos.write(1, b'raw')"})
        assert "raw" in text_of(result)

        # bad input gets a clear tool error, and the session survives it
        bad = [{"name": "b.txt", "content_base64": "not base64!"}]
        result = await session.call_tool("run_python", {"code": "print(1)", "files": bad})
        assert result.is_error and "base64" in text_of(result)
        result = await session.call_tool("run_python", {"code": "print(x)"})
        assert "41" in text_of(result)


async def test_figure_comes_back_as_png_image() -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.title('squares')\n"
        "plt.show()\n"
        "print('drawn')"
    )
    async with connect() as session:
        result = await session.call_tool("run_python", {"code": code})
    assert not result.is_error, text_of(result)
    images = [c for c in result.content if isinstance(c, ImageContent)]
    assert len(images) == 1
    assert images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(PNG_MAGIC)
    assert "drawn" in text_of(result)


async def test_timeout_is_reported_and_the_session_goes_on() -> None:
    async with connect("--timeout", "1") as session:
        result = await session.call_tool("run_python", {"code": "while True:\n    pass"})
        assert result.is_error
        assert "OUTCOME_DEADLINE_EXCEEDED" in text_of(result)
        result = await session.call_tool("run_python", {"code": "print('alive')"})
        assert not result.is_error and "alive" in text_of(result)


async def test_each_client_gets_its_own_session() -> None:
    async with connect() as first:
        await first.call_tool("run_python", {"code": "secret = 7"})
        async with connect() as second:
            result = await second.call_tool("run_python", {"code": "print(secret)"})
        assert result.is_error and "NameError" in text_of(result)
        result = await first.call_tool("run_python", {"code": "print(secret)"})
        assert "7" in text_of(result)


@asynccontextmanager
async def http_server() -> AsyncIterator[str]:
    """`python -m agent mcp --transport streamable-http` on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    args = ["-m", "agent", "mcp", "--transport", "streamable-http", "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                await anyio.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
        http_server.log = err.decode(errors="replace")  # type: ignore[attr-defined]


async def test_streamable_http_sessions_are_per_client() -> None:
    async with http_server() as url:
        async with streamable_http_client(url) as (r1, w1), ClientSession(r1, w1) as first:
            await first.initialize()
            await first.call_tool("run_python", {"code": "secret = 7"})
            async with streamable_http_client(url) as (r2, w2), ClientSession(r2, w2) as second:
                await second.initialize()
                result = await second.call_tool("run_python", {"code": "print(secret)"})
                assert result.is_error and "NameError" in text_of(result)
            result = await first.call_tool("run_python", {"code": "print(secret * 6)"})
            assert "42" in text_of(result)
    log = http_server.log  # type: ignore[attr-defined]
    assert log.count("closed the sandbox of session") == 2
