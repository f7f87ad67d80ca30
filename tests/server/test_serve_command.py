"""`python -m agent serve` as a user starts it: a real process on a real port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_answers_with_key_and_aliases() -> None:
    port = _free_port()
    env = {**os.environ, "CODEXEC_API_KEY": "env-key"}
    cmd = [sys.executable, "-m", "agent", "serve", "--port", str(port), "--alias", "g=local:0.5b"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1beta/models"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                response = httpx.get(url, headers={"x-goog-api-key": "env-key"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        assert response.status_code == 200
        names = [m["name"] for m in response.json()["models"]]
        assert "models/g" in names
        assert httpx.get(url).status_code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode in (0, 143, -15)  # 143: exited cleanly after SIGTERM
    assert b"env-key" not in out  # the key is never logged
