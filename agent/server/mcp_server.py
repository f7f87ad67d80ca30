"""MCP server (official `mcp` SDK): our sandbox as a `run_python` tool for any MCP client.

`python -m agent mcp` serves on stdio; `--transport streamable-http --port N` serves HTTP.
Each client connection gets its own sandbox session, created on its first call, so variables
and files persist across calls, and closed when the client disconnects. Built on mcp 2.x
(`MCPServer`, formerly `FastMCP`).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import logging
import mimetypes
import os
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import cast

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import BaseModel, Field

from sandbox import ExecutionResult, Limits, Sandbox, SandboxError

if sys.version_info < (3, 11):  # anyio depends on the backport there
    from exceptiongroup import BaseExceptionGroup

log = logging.getLogger(__name__)
RUN_PYTHON_DESCRIPTION = (
    "Run Python code in a stateful sandbox: variables, imports and files persist across calls "
    "of this client. Returns stdout, stderr and the error traceback as text, and each "
    "matplotlib figure as a PNG image. Optional `files` are written into the working "
    "directory first. Only a fixed set of libraries can be imported (numpy, pandas, "
    "matplotlib, scipy, sympy, scikit-learn, ...)."
)


def package_version() -> str:
    """codexec's installed version, reported to clients as the server's version."""
    try:
        return metadata.version("codexec")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class InputFileArg(BaseModel):
    name: str = Field(description="file name in the working directory, e.g. data.csv")
    content_base64: str = Field(description="the file's bytes, base64-encoded")


@dataclass
class Session:
    """One client's sandbox, made on first use (or ahead of it by `prewarm`)."""

    limits: Limits
    sandbox: Sandbox | None = None
    lock: anyio.Lock = field(default_factory=anyio.Lock)  # one call at a time
    _making: threading.Lock = field(default_factory=threading.Lock)  # guards `sandbox`

    def get(self) -> Sandbox:
        with self._making:
            if self.sandbox is None:
                self.sandbox = Sandbox(limits=self.limits)
            return self.sandbox

    def prewarm(self) -> None:
        """Start the sandbox in the background so the first call does not wait for it."""

        def make() -> None:
            try:
                self.get()
            except Exception:  # the first call will try again and report it
                log.exception("could not start the sandbox ahead of time")

        threading.Thread(target=make, name="sandbox-prewarm", daemon=True).start()

    def close(self) -> None:
        with self._making:
            if self.sandbox is not None:
                self.sandbox.close()
                self.sandbox = None


def format_result(result: ExecutionResult) -> str:
    """The run as text: outcome first, then each non-empty stream."""
    lines = [f"outcome: {result.outcome} (verdict: {result.verdict})"]
    if result.stdout:
        lines += ["--- stdout ---", result.stdout.rstrip("\n")]
    if result.stderr:
        lines += ["--- stderr ---", result.stderr.rstrip("\n")]
    if result.error is not None:
        error = result.error.traceback or f"{result.error.name}: {result.error.message}"
        lines += ["--- error ---", error.rstrip("\n")]
    if result.figures:
        lines.append(f"[{len(result.figures)} figure(s) attached as images]")
    if result.files:
        listed = ", ".join(f"{f.name} ({f.size} bytes)" for f in result.files)
        lines.append(f"files written: {listed}")
    return "\n".join(lines)


class Sessions:
    """The sandbox sessions of one server: one per client connection.

    On stdio the server serves one connection per process, so there is one session. On
    streamable HTTP each `mcp-session-id` gets its own, closed when its connection closes;
    a stateless request (no session id) gets a throwaway one.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._by_id: dict[str | None, Session] = {}

    def default(self) -> Session:
        """The session of a connection without a session id (stdio)."""
        return self._by_id.setdefault(None, Session(limits=self.limits))

    def acquire(self, ctx: Context) -> tuple[Session, bool]:
        """This client's session, and whether it is throwaway (close after the call)."""
        headers = ctx.headers
        key = headers.get("mcp-session-id") if headers is not None else None
        if headers is not None and key is None:
            return Session(limits=self.limits), True
        session = self._by_id.get(key)
        if session is None:
            session = self._by_id[key] = Session(limits=self.limits)
            if key is not None:
                self._close_with_connection(ctx, key)
        return session, False

    def _close_with_connection(self, ctx: Context, key: str) -> None:
        # The SDK unwinds a connection's exit stack when it closes; it exposes the
        # connection to handlers only through the request's session.
        connection = getattr(ctx.request_context.session, "_connection", None)
        if connection is not None:
            connection.exit_stack.push_async_callback(self.close, key)
        else:
            log.warning("cannot watch session %s for its end; its sandbox lives on", key)

    async def close(self, key: str | None) -> None:
        session = self._by_id.pop(key, None)
        if session is not None:
            await anyio.to_thread.run_sync(session.close)
            log.info("closed the sandbox of session %s", key or "stdio")

    async def close_all(self) -> None:
        for key in list(self._by_id):
            await self.close(key)


def build_server(limits: Limits | None = None, prewarm: bool = False) -> MCPServer:
    """The server; `prewarm` starts the (single) stdio client's sandbox at connection time."""
    limits = limits or Limits()

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> AsyncIterator[Sessions]:
        sessions = Sessions(limits)
        if prewarm:
            sessions.default().prewarm()
        try:
            yield sessions
        finally:
            with anyio.CancelScope(shield=True):
                await sessions.close_all()

    server = MCPServer(
        "codexec",
        version=package_version(),
        instructions=RUN_PYTHON_DESCRIPTION,
        lifespan=lifespan,
    )

    @asynccontextmanager
    async def sandbox_of(ctx: Context) -> AsyncIterator[Sandbox]:
        # what lifespan() yields; a bare Context types it as the SDK's default, a dict
        sessions = cast(Sessions, ctx.request_context.lifespan_context)
        session, throwaway = sessions.acquire(ctx)
        try:
            async with session.lock:
                yield await anyio.to_thread.run_sync(session.get)
        finally:
            if throwaway:
                await anyio.to_thread.run_sync(session.close)

    @server.tool(description=RUN_PYTHON_DESCRIPTION)
    async def run_python(
        code: str, ctx: Context, files: list[InputFileArg] | None = None
    ) -> CallToolResult:
        try:
            async with sandbox_of(ctx) as sandbox:
                for f in files or []:
                    await anyio.to_thread.run_sync(sandbox.put_file, f.name, _decode(f))
                result = await anyio.to_thread.run_sync(sandbox.run, code)
        except SandboxError as e:
            raise ToolError(str(e)) from e
        except (ToolError, anyio.get_cancelled_exc_class()):
            raise
        except Exception as e:  # a sandbox fault: say what it was, keep the server up
            log.exception("run_python failed inside the sandbox")
            raise ToolError(f"sandbox failure: {type(e).__name__}: {e}") from e
        content: list[TextContent | ImageContent] = [
            TextContent(type="text", text=format_result(result))
        ]
        content += [
            ImageContent(type="image", data=fig.data, mime_type=fig.mime_type)
            for fig in result.figures
        ]
        return CallToolResult(content=content, is_error=result.outcome != "OUTCOME_OK")

    @server.tool(description="List the files in this session's working directory.")
    async def list_files(ctx: Context) -> str:
        async with sandbox_of(ctx) as sandbox:
            infos = await anyio.to_thread.run_sync(sandbox.list_files)
        if not infos:
            return "(no files)"
        return "\n".join(f"{f.name}\t{f.size} bytes\t{f.mime_type}" for f in infos)

    @server.tool(
        description="Read a file from this session's working directory: text as text, "
        "images as images, other files as base64."
    )
    async def read_file(name: str, ctx: Context) -> CallToolResult:
        try:
            async with sandbox_of(ctx) as sandbox:
                data = await anyio.to_thread.run_sync(sandbox.read_file, name)
        except (SandboxError, OSError) as e:
            raise ToolError(f"cannot read {name!r}: {e}") from e
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        encoded = base64.b64encode(data).decode()
        if mime.startswith("image/"):
            return CallToolResult(
                content=[ImageContent(type="image", data=encoded, mime_type=mime)]
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = f"base64 ({mime}, {len(data)} bytes):\n{encoded}"
        return CallToolResult(content=[TextContent(type="text", text=text)])

    return server


def _decode(f: InputFileArg) -> bytes:
    try:
        return base64.b64decode(f.content_base64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ToolError(f"file {f.name!r}: content_base64 is not valid base64") from e


def _only_disconnects(exc: BaseException) -> bool:
    """Whether `exc` (or every leaf of an exception group) is the client's pipe going away."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_only_disconnects(e) for e in exc.exceptions)
    return isinstance(exc, (BrokenPipeError, ConnectionResetError, anyio.BrokenResourceError))


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    from agent.cli import program_name

    parser = argparse.ArgumentParser(
        prog=program_name("mcp"), description="MCP server with a run_python tool."
    )
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="for streamable-http")
    parser.add_argument("--port", type=int, default=8001, help="for streamable-http")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run")
    args = parser.parse_args(argv)
    limits = Limits(timeout_s=args.timeout) if args.timeout is not None else Limits()
    server = build_server(limits, prewarm=args.transport == "stdio")
    if args.transport == "stdio":
        try:
            server.run("stdio")
        except BaseException as e:
            if not _only_disconnects(e):
                raise
            # The client closed its end while we were answering: a normal way for a stdio
            # session to end, not an error. Keep the interpreter's final stdout flush quiet too.
            log.info("the MCP client disconnected")
            _silence_stdout()
    else:
        server.run("streamable-http", host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
