"""The CLI end to end with the embedded local model (real llama.cpp, real sandbox).

(`solve()` itself on the cubic and strawberry is covered in tests/local/test_local_e2e.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_cli_json_with_the_local_model(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CODEXEC_MODEL"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    question = "How many times does the letter r occur in strawberry?"
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "solve", question, "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    parts = data["candidates"][0]["content"]["parts"]
    assert any("executableCode" in p for p in parts)
    results = [p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p]
    assert any(r["outcome"] == "OUTCOME_OK" for r in results)
    assert data["finalAnswer"].strip().strip("'\"") == "3"
    usage = data["usageMetadata"]
    assert usage["promptTokenCount"] > 0 and usage["candidatesTokenCount"] > 0
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["toolUsePromptTokenCount"]
    )
    assert data["steps"] >= 2
    # the second call continues the first turn from the cache: its tokens are reused, not read
    speed = data["speed"]
    assert speed["reusedPromptTokens"] >= usage["promptTokenCount"]
    assert speed["outputTokensPerSecond"] > 0 and speed["generateSeconds"] > 0
