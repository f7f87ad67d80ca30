"""End to end with the real embedded models (slow: they load a GGUF and generate on the CPU)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent.models.base import GenerateOptions, ModelTurn
from agent.parts import CodePart, Message, ResultPart, TextPart
from agent.strategies import TextProtocol

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _ran_code_ok(result) -> bool:
    codes = [p for p in result.parts if isinstance(p, CodePart)]
    return bool(codes) and any(
        isinstance(p, ResultPart) and p.outcome == "OUTCOME_OK" for p in result.parts
    )


def _numbers(text: str) -> set[float]:
    return {float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text)}


def test_local_backend_stops_at_the_code_and_reuses_the_kv_cache() -> None:
    from agent.models.local import LocalModel

    model = LocalModel("0.5b")
    strategy = TextProtocol(prefill=False)  # the worked examples, as every solve sends them

    def generate(history: list[Message], on_text=None) -> ModelTurn:
        prompt = strategy.prompt(history, code_execution=True)
        options = GenerateOptions(shared_prefix=prompt.shared)
        return model.generate(
            prompt.system, prompt.history, code_execution=True, options=options, on_text=on_text
        )

    history = [Message.user("What is 123456789 * 987654321? Use Python.")]
    streamed: list[str] = []
    turn = generate(history, streamed.append)
    assert turn.finish_reason == "CODE" and turn.code
    assert "```" not in "".join(streamed)  # prose only, never the fence
    assert turn.usage.prompt_tokens > 100 and turn.usage.output_tokens > 5
    first = model.last_stats

    history.append(
        Message(
            role="model",
            parts=[
                TextPart(text=turn.text),
                CodePart(code=turn.code),
                ResultPart(outcome="OUTCOME_OK", output="121932631112635269\n"),
            ],
        )
    )
    turn2 = generate(history)
    assert "121932631112635269" in turn2.text.replace(",", "")
    # the second prompt extends the first: everything up to the generated code is reused
    assert model.last_stats.reused_tokens >= first.prompt_tokens + first.output_tokens - 4
    assert turn2.usage.prompt_tokens > turn.usage.prompt_tokens


def test_solve_cubic_runs_code() -> None:
    from agent import solve

    result = solve("Solve x**3 - 6*x**2 + 11*x - 6 = 0", model="local")
    assert _ran_code_ok(result), result.parts
    assert {1.0, 2.0, 3.0} <= _numbers(result.final_answer), result.final_answer


def test_solve_strawberry_runs_code() -> None:
    from agent import solve

    result = solve("How many times does the letter r occur in strawberry?", model="local")
    assert _ran_code_ok(result), result.parts
    assert _numbers(result.final_answer) == {3.0}, result.final_answer


def test_cli_solve_json() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "solve", "What is 2**100 - 12345?", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)  # stdout holds the JSON object and nothing else
    parts = out["candidates"][0]["content"]["parts"]
    assert any("executableCode" in p for p in parts)
    assert str(2**100 - 12345) in out["finalAnswer"].replace(",", "")
    assert out["usageMetadata"]["totalTokenCount"] > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory):
    from agent.weights import model_path

    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agent.models.llama_server",
            "--model",
            str(model_path("0.5b", progress=False)),
            "--model_alias",
            "qwen-0.5b",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",  # the test process waits meanwhile; leave a core to the rest
            str(max(1, (os.cpu_count() or 2) // 2)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,  # a file, not a pipe: llama.cpp logs a lot while loading
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail("llama_cpp.server exited: " + log.read()[-2000:])
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start within 180 s")
            time.sleep(0.5)
        yield base
        if proc.poll() is not None:  # it died under a test: say why (a crash looks like a refusal)
            log.seek(0)
            pytest.fail(f"llama server exited {proc.returncode}: " + log.read()[-2000:])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_openai_backend_against_real_llama_server(llama_server: str, monkeypatch) -> None:
    from agent import Agent
    from agent.models.openai_backend import OpenAIModel

    monkeypatch.delenv("CODEXEC_OPENAI_TOOLS", raising=False)
    model = OpenAIModel("qwen-0.5b", base_url=llama_server, api_key="unused")
    agent = Agent(model=model, options=GenerateOptions(max_output_tokens=400, timeout_s=300))
    result = agent.run("What is 123456789 * 987654321? Compute it with Python.")
    assert _ran_code_ok(result), result.parts
    assert "121932631112635269" in result.final_answer.replace(",", "")
    assert result.usage.prompt_token_count > 0 and result.steps >= 2


def test_openai_spec_from_env(llama_server: str, monkeypatch) -> None:
    from agent import solve

    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = solve(
        "What is 2**64 + 1? Compute it with Python.",
        model="openai:qwen-0.5b",
        options=GenerateOptions(max_output_tokens=400, timeout_s=300),
    )
    assert _ran_code_ok(result), result.parts
    assert str(2**64 + 1) in result.final_answer.replace(",", "")
