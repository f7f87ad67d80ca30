"""What a hostile client or model sends gets a Gemini-shaped 400 (or a clean answer), never 500.

Each body goes over real HTTP to the real server, exactly as an attacker would send it.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

HELLO = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
OK_TURNS = [{"text": "Final answer: ok"}]


@pytest.fixture
def server(start_server, script):
    return start_server(aliases={"ok": script(OK_TURNS * 50)})


def _post(server, body: bytes, model: str = "ok", method: str = "generateContent"):
    url = f"{server.url}/v1beta/models/{model}:{method}"
    return httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=60)


def _assert_400(response: httpx.Response, needle: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert needle.lower() in error["message"].lower(), error["message"]


def _hello_with(text_json: str) -> bytes:
    """HELLO with the prompt text given as raw JSON (so escapes reach the server unchanged)."""
    return b'{"contents": [{"role": "user", "parts": [{"text": ' + text_json.encode() + b"}]}]}"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"contents": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (b'{"contents": [], "x": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}", "nested"),
        (b'{"contents": [], "n": ' + b"7" * 5000 + b"}", "integer"),
        (_hello_with('"\\ud800"'), "surrogate"),
        (_hello_with('"ok \\udfff tail"'), "surrogate"),
        (b'{"\\ud800": 1, "contents": []}', "surrogate"),
        (
            b'{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"temperature": NaN}}',
            "NaN",
        ),  # fmt: skip
        (
            b'{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": '
            b'{"temperature": Infinity}}',
            "Infinity",
        ),  # fmt: skip
        (
            b'{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": '
            b'{"temperature": 1e999}}',
            "range",
        ),  # fmt: skip
        (
            b'{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"temperature": -1}}',
            "temperature",
        ),  # fmt: skip
        (
            b'{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": '
            b'{"maxOutputTokens": ' + b"9" * 300 + b"}}",
            "maxOutputTokens",
        ),  # fmt: skip
        (b"\xff\xfe{}", "UTF-8"),
    ],
)
def test_hostile_bodies_are_400_not_500(server, body: bytes, needle: str) -> None:
    _assert_400(_post(server, body), needle)
    _assert_400(_post(server, body, method="streamGenerateContent"), needle)
    assert _post(server, json.dumps(HELLO).encode()).status_code == 200  # the server is fine


def test_a_paired_surrogate_escape_is_an_ordinary_character(server, created_models) -> None:
    response = _post(server, _hello_with('"\\ud83d\\ude00 hi"'))
    assert response.status_code == 200, response.text
    given = created_models[-1].calls[0]["history"][0].parts[0].text
    assert given == "\U0001f600 hi"


def test_url_safe_and_unpadded_base64_files_reach_the_code(start_server, script) -> None:
    raw = bytes(range(256)) * 3 + b"\xfb\xff"  # holds + and / in standard base64
    code = "print(open('blob.bin', 'rb').read().hex())"
    server = start_server(aliases={"m": script([{"text": "", "code": code}, {"text": "done"}] * 3)})
    for data in (
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    ):
        part = {"inlineData": {"mimeType": "application/octet-stream", "data": data,
                               "displayName": "blob.bin"}}  # fmt: skip
        body = {
            "contents": [{"parts": [{"text": "read it"}, part]}],
            "tools": [{"codeExecution": {}}],
        }
        response = _post(server, json.dumps(body).encode(), model="m")
        assert response.status_code == 200, response.text
        parts = response.json()["candidates"][0]["content"]["parts"]
        results = [p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p]
        assert results and results[0]["outcome"] == "OUTCOME_OK", parts
        assert results[0]["output"].strip() == raw.hex()


def test_a_lone_surrogate_from_the_models_code_is_answered_cleanly(start_server, script) -> None:
    code = 'raise ValueError("bad \\ud800 text")'
    server = start_server(
        aliases={"m": script([{"text": "", "code": code}, {"text": "Final answer: \ud800 x"}] * 2)}
    )
    for method in ("generateContent", "streamGenerateContent"):
        body = {"contents": [{"parts": [{"text": "go"}]}], "tools": [{"codeExecution": {}}]}
        if method == "streamGenerateContent":
            server_url = f"{server.url}/v1beta/models/m:{method}?alt=sse"
            response = httpx.post(server_url, json=body, timeout=60)
            assert response.status_code == 200
            response.content.decode("utf-8")  # valid UTF-8 throughout
            assert "bad \ufffd text" in response.text
            continue
        response = _post(server, json.dumps(body).encode(), model="m")
        assert response.status_code == 200, response.text
        text = response.content.decode("utf-8")
        assert (
            "bad \ufffd text"
            in json.loads(text)["candidates"][0]["content"]["parts"][1]["codeExecutionResult"][
                "output"
            ]
        )
        assert "\ufffd x" in text
