"""SIGTERM to `serve` cleans up (the zygote's workspaces and cgroups); a zygote crash is told
truthfully (the workspace is gone with it)."""

from __future__ import annotations

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def test_sigterm_removes_workspaces_and_cgroups(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"turns": [{"text": "", "code": "print(6*7)"},
                                            {"text": "Final answer: 42"}]}))  # fmt: skip
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "agent",
        "serve",
        "--port",
        str(port),
        "--alias",
        f"s=scripted:{script}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/v1beta/models/s:generateContent"
        body = {"contents": [{"parts": [{"text": "q"}]}], "tools": [{"codeExecution": {}}]}
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.post(url, json=body, timeout=120)
                break
            except httpx.ConnectError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        assert response.status_code == 200, response.text
        left = glob.glob(os.path.join(tempfile.gettempdir(), f"codexec-{proc.pid}-*"))
        assert left, "the zygote's host directory should exist while serving"
        zygotes = [
            int(pid)
            for pid in os.listdir("/proc")
            if pid.isdigit()
            and b"sandbox.jail.zygote" in _read(f"/proc/{pid}/cmdline")
            and f" {proc.pid} ".encode() in _read(f"/proc/{pid}/stat").split(b")")[-1][:40]
        ]
        assert zygotes, "no zygote under the server"
        cgroups = [
            p
            for z in zygotes
            for p in glob.glob(f"/sys/fs/cgroup/*/**/codexec-{z}-*", recursive=True)
        ]
        assert cgroups, "the sessions' cgroups should exist while serving"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) in (0, 128 + signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not [p for p in left if os.path.exists(p)], "workspace dirs left behind"
    assert not [p for p in cgroups if os.path.exists(p)], "session cgroups left behind"


def test_a_zygote_crash_says_the_files_are_gone() -> None:
    code = """
import os, signal, time
from sandbox import Sandbox
with Sandbox() as sb:
    sb.run("open('keep.txt', 'w').write('x')")
    zygote = sb._state.client.pid
    killer = __import__('threading').Timer(1.0, os.kill, (zygote, signal.SIGKILL))
    killer.start()
    r = sb.run("import time\\ntime.sleep(10)")
    print("RUN", r.error.message)
    r2 = sb.run("import os\\nprint(os.listdir('.'))")
    print("NEXT", r2.stderr.strip(), r2.stdout.strip())
"""
    env = {**os.environ, "CODEXEC_SANDBOX_PRELOAD": "light"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    run_line = next(ln for ln in done.stdout.splitlines() if ln.startswith("RUN"))
    assert "files kept" not in run_line and "files lost" in run_line
    next_line = next(ln for ln in done.stdout.splitlines() if ln.startswith("NEXT"))
    assert "were lost" in next_line and "keep.txt" not in next_line
