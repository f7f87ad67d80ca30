"""Bad requests get Gemini-style JSON errors with the right HTTP status (raw httpx)."""

from __future__ import annotations

import base64
import threading
import time

import httpx
import pytest

OK_TURNS = [{"text": "Final answer: ok"}]
HELLO = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _error(response: httpx.Response, code: int, status: str) -> str:
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert error["message"]
    return error["message"]


@pytest.fixture
def server(start_server, script):
    return start_server(aliases={"ok": script(OK_TURNS * 20)})


def _post(server, body, model: str = "ok", method: str = "generateContent", **kw):
    url = f"{server.url}/v1beta/models/{model}:{method}"
    if isinstance(body, (bytes, str)):
        return httpx.post(url, content=body, headers={"content-type": "application/json"}, **kw)
    return httpx.post(url, json=body, **kw)


def test_a_good_request_works_in_snake_case_too(server) -> None:
    body = {
        "contents": [{"parts": [{"text": "hi"}]}],
        "generation_config": {"max_output_tokens": 9},
    }
    response = _post(server, body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["candidates"][0]["content"]["parts"] == [{"text": "Final answer: ok"}]
    assert data["usageMetadata"]["toolUsePromptTokenCount"] == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "Invalid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        ({}, "contents"),
        ({"contents": []}, "contents"),
        ({"contents": [{"role": "user", "parts": [{"audioBlob": {}}]}]}, "audioBlob"),
        ({"contents": [{"role": "user", "parts": [{}]}]}, "empty part"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "role"),
        ({"contents": [{"parts": [{"text": 5}]}]}, "text"),
        (
            {"contents": [{"parts": [{"inlineData": {"mimeType": "text/csv", "data": "@@"}}]}]},
            "base64",
        ),
        ({"contents": [{"parts": [{"fileData": {"fileUri": "gs://x"}}]}]}, "inlineData"),
        ({**HELLO, "tools": [{"googleSearch": {}}]}, "googleSearch"),
        ({**HELLO, "generationConfig": {"candidateCount": 2}}, "candidate"),
    ],
)
def test_bad_input_is_400(server, body, needle: str) -> None:
    message = _error(_post(server, body), 400, "INVALID_ARGUMENT")
    assert needle.lower() in message.lower()


def test_unknown_model_method_and_route_are_404(server) -> None:
    assert "nosuch" in _error(_post(server, HELLO, model="nosuch"), 404, "NOT_FOUND")
    _error(_post(server, HELLO, model="local:7b"), 404, "NOT_FOUND")
    _error(_post(server, HELLO, method="embedContent"), 404, "NOT_FOUND")
    _error(httpx.post(f"{server.url}/v2/models/ok:generateContent", json=HELLO), 404, "NOT_FOUND")
    _error(httpx.get(f"{server.url}/nothing/here"), 404, "NOT_FOUND")


def test_missing_scripted_file_is_404(server) -> None:
    _error(_post(server, HELLO, model="scripted:/nonexistent/x.json"), 404, "NOT_FOUND")


def test_body_over_the_limit_is_413(start_server, script) -> None:
    server = start_server(aliases={"ok": script(OK_TURNS)}, max_body_bytes=1000)
    big = base64.b64encode(b"x" * 2000).decode()
    body = {"contents": [{"parts": [{"inlineData": {"mimeType": "text/plain", "data": big}}]}]}
    _error(_post(server, body), 413, "INVALID_ARGUMENT")
    # without a Content-Length (chunked upload) too
    chunks = iter([b'{"contents": [{"parts": [{"text": "', b"y" * 3000, b'"}]}]}'])
    response = httpx.post(f"{server.url}/v1beta/models/ok:generateContent", content=chunks)
    _error(response, 413, "INVALID_ARGUMENT")


def test_api_key_missing_is_401_wrong_is_403(start_server, script) -> None:
    server = start_server(api_key="s3cret", aliases={"ok": script(OK_TURNS * 3)})
    url = f"{server.url}/v1beta/models/ok:generateContent"
    _error(httpx.post(url, json=HELLO), 401, "UNAUTHENTICATED")
    _error(httpx.post(url, json=HELLO, headers={"x-goog-api-key": "bad"}), 403, "PERMISSION_DENIED")
    _error(httpx.get(f"{server.url}/v1beta/models"), 401, "UNAUTHENTICATED")
    assert httpx.post(url, json=HELLO, params={"key": "s3cret"}).status_code == 200
    assert httpx.post(url, json=HELLO, headers={"x-goog-api-key": "s3cret"}).status_code == 200


def test_model_list_shows_aliases(server) -> None:
    models = httpx.get(f"{server.url}/v1beta/models").json()["models"]
    names = {m["name"] for m in models}
    assert {"models/default", "models/local", "models/ok"} <= names
    one = httpx.get(f"{server.url}/v1beta/models/ok").json()
    assert one["description"].startswith("codexec: scripted:")


def test_full_queue_is_429_and_a_slow_run_does_not_block_others(start_server, script) -> None:
    slow = script([{"text": "", "code": "print('slow')", "delay_s": 3}, {"text": "done slow"}])
    server = start_server(
        aliases={"slow": slow, "fast": script(OK_TURNS * 5)}, max_concurrency=2, queue_size=0
    )
    pool = server.app.state.pool
    finished: list[str] = []

    def call_slow() -> None:
        response = _post(server, HELLO, model="slow", timeout=60)
        finished.append(f"slow {response.status_code}")

    thread = threading.Thread(target=call_slow)
    thread.start()
    deadline = time.monotonic() + 20
    while pool.admitted < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.admitted == 1
    # a fast request runs beside the slow one and finishes first
    assert _post(server, HELLO, model="fast").status_code == 200
    finished.append("fast")
    # fill the other slot, then the server is full
    thread2 = threading.Thread(target=call_slow)
    thread2.start()
    while pool.admitted < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    message = _error(_post(server, HELLO, model="fast"), 429, "RESOURCE_EXHAUSTED")
    assert "retry" in message.lower()
    thread.join(30)
    thread2.join(30)
    assert finished == ["fast", "slow 200", "slow 200"]
    assert pool.admitted == 0


def test_stream_errors_before_the_first_chunk_are_plain_json(server) -> None:
    method = "streamGenerateContent"
    bad_model = _post(server, HELLO, model="scripted:/nonexistent.json", method=method)
    _error(bad_model, 404, "NOT_FOUND")
    _error(_post(server, {"contents": []}, method=method), 400, "INVALID_ARGUMENT")


def test_backend_without_its_key_is_503_naming_the_variable(server, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    message = _error(_post(server, HELLO, model="openai:gpt-4o-mini"), 503, "UNAVAILABLE")
    assert "OPENAI_API_KEY" in message


def test_model_failure_mid_run_keeps_the_parts_and_says_why(start_server, script) -> None:
    turns = [{"text": "Working.", "code": "print(1)"}, {"error": "backend went away"}]
    server = start_server(aliases={"flaky": script(turns), "dead": script(turns[1:])})
    body = {**HELLO, "tools": [{"codeExecution": {}}]}
    data = _post(server, body, model="flaky").json()
    candidate = data["candidates"][0]
    assert [next(iter(p)) for p in candidate["content"]["parts"]] == [
        "text",
        "executableCode",
        "codeExecutionResult",
    ]
    assert candidate["finishReason"] == "OTHER"
    assert "backend went away" in candidate["finishMessage"]
    message = _error(_post(server, body, model="dead"), 503, "UNAVAILABLE")
    assert "backend went away" in message
