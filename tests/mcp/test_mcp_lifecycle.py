"""The MCP server's identity and how it ends: its version, and a client that leaves early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[2]


def server_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


async def test_reports_the_package_version(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "agent", "mcp"], cwd=str(REPO), env=server_env()
    )
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            init = await session.initialize()
    assert init.server_info.name == "codexec"
    assert init.server_info.version == metadata.version("codexec")
    assert init.server_info.version  # was "" before
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text()


def _send(proc: subprocess.Popen[bytes], message: dict) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    proc.stdin.flush()


def test_client_that_disconnects_mid_call_leaves_no_traceback() -> None:
    """A client that sends a call and closes its pipes without reading the answer.

    (The official stdio client drains the server's stdout while it shuts down, so it never
    makes the server write into a closed pipe; editors and scripts that just exit do.)
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=server_env(),
    )
    try:
        _send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "leaves-early", "version": "1"},
        }})  # fmt: skip
        assert proc.stdout is not None
        reply = json.loads(proc.stdout.readline())
        assert reply["result"]["serverInfo"]["version"] == metadata.version("codexec")
        _send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        call = {"name": "run_python", "arguments": {"code": "print('x' * 100_000)"}}
        _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})
        time.sleep(0.2)
        proc.stdout.close()  # gone before the answer is written
        proc.stdin.close()  # type: ignore[union-attr]
        code = proc.wait(timeout=60)
        assert proc.stderr is not None
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "BrokenPipeError" not in stderr and "Traceback" not in stderr, stderr
    assert code == 0, stderr
    assert "disconnected" in stderr  # said in one log line instead
