"""countTokens through the official google-genai client and as raw REST."""

from __future__ import annotations

import httpx
import pytest
from google.genai import errors

from agent.models.scripted import render_plain
from agent.parts import Message
from agent.prompts import system_prompt
from agent.server.count_tokens import HEADER, prompt_of
from agent.server.wire import parse_request

TURNS = [{"text": "Final answer: 1"}]


def _user(text: str) -> list[Message]:
    return [Message.user(text)]


def test_count_tokens_with_the_official_client(client_for, start_server, script) -> None:
    spec = script(TURNS)
    server = start_server(aliases={"gemini-2.5-flash": spec})
    client = client_for(server.url)
    question = "What is the sum of the first 100 primes?"
    response = client.models.count_tokens(model="gemini-2.5-flash", contents=question)
    # scripted models are estimated: characters / 4 of the prompt the agent would send
    expected = len(render_plain(system_prompt(False), _user(question))) // 4
    assert response.total_tokens == expected > 0
    longer = client.models.count_tokens(
        model="gemini-2.5-flash", contents=[question, "And of the first 200?"]
    )
    assert longer.total_tokens > response.total_tokens


def test_generate_content_request_form_counts_system_and_tools(start_server, script) -> None:
    server = start_server()
    spec = script(TURNS)
    contents = [{"role": "user", "parts": [{"text": "hi"}]}]
    url = f"{server.url}/v1beta/models/{spec}:countTokens"
    plain = httpx.post(url, json={"contents": contents})
    assert plain.status_code == 200, plain.text
    assert plain.headers[HEADER] == "estimate"
    full = httpx.post(
        url,
        json={
            "generateContentRequest": {
                "model": f"models/{spec}",
                "contents": contents,
                "systemInstruction": {"parts": [{"text": "You are terse. " * 20}]},
                "tools": [{"codeExecution": {}}],
            }
        },
    )
    assert full.status_code == 200, full.text
    body = full.json()
    system = system_prompt(True, [], "You are terse. " * 20)
    assert body["totalTokens"] == len(render_plain(system, _user("hi"))) // 4
    assert body["totalTokens"] > plain.json()["totalTokens"]
    assert body["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": body["totalTokens"]}]


def test_count_tokens_counts_attached_files(start_server, script) -> None:
    server = start_server()
    spec = script(TURNS)
    url = f"{server.url}/v1beta/models/{spec}:countTokens"
    csv = {"inlineData": {"mimeType": "text/csv", "data": "eCx5CjEsMgo="}}  # "x,y\n1,2\n"
    with_file = httpx.post(url, json={"contents": [{"parts": [csv, {"text": "sum y"}]}]})
    without = httpx.post(url, json={"contents": [{"parts": [{"text": "sum y"}]}]})
    assert with_file.status_code == 200, with_file.text
    # without code execution the small text file is shown to the model, so it counts
    assert with_file.json()["totalTokens"] > without.json()["totalTokens"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "contents is not specified"),
        ({"contents": "nope"}, "contents"),
        ({"contents": [{"parts": [{"text": "a"}]}], "generateContentRequest": {}}, "not both"),
        ({"generateContentRequest": 3}, "generateContentRequest"),
    ],
)
def test_bad_count_tokens_requests_are_400(start_server, script, body, message) -> None:
    server = start_server()
    r = httpx.post(f"{server.url}/v1beta/models/{script(TURNS)}:countTokens", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]["message"]


def test_unknown_model_and_key_checks(client_for, start_server, script) -> None:
    server = start_server(api_key="s3cret", aliases_only=True, aliases={"m": script(TURNS)})
    good, bad = client_for(server.url, api_key="s3cret"), client_for(server.url, api_key="wrong")
    with pytest.raises(errors.ClientError) as e:
        good.models.count_tokens(model="nope", contents="x")
    assert e.value.code == 404
    with pytest.raises(errors.ClientError) as e:
        bad.models.count_tokens(model="m", contents="x")
    assert e.value.code == 403
    ok = good.models.count_tokens(model="m", contents="x")
    assert ok.total_tokens > 0


def test_model_info_lists_count_tokens(client_for, start_server) -> None:
    server = start_server()
    client = client_for(server.url)
    info = client.models.get(model="local")
    assert "countTokens" in info.supported_actions


def test_prompt_of_matches_what_the_agent_builds() -> None:
    parsed = parse_request(
        {
            "contents": [{"parts": [{"text": "q"}]}],
            "tools": [{"codeExecution": {}}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
        }
    )
    prompt = prompt_of(parsed)
    assert prompt.system == system_prompt(True, [], "Be brief.")
    assert [m.text() for m in prompt.history] == ["q"]


@pytest.mark.slow  # loads the real 1.5B model
def test_local_count_uses_the_model_tokenizer(client_for, start_server) -> None:
    pytest.importorskip("llama_cpp")
    from agent.models.local_tokens import render_first_prompt

    server = start_server()
    client = client_for(server.url)
    try:
        plain = client.models.count_tokens(model="local", contents="What is 2**10?")
    except errors.ServerError as e:  # weights not installed
        pytest.skip(f"local model unavailable: {e}")
    from agent.models import local

    prompt = render_first_prompt(
        local.local_strategy().prompt(_user("What is 2**10?"), code_execution=False)
    )
    llm = local._load("1.5b").llm
    assert plain.total_tokens == len(llm.tokenize(prompt.encode(), add_bos=False, special=True))
    r = httpx.post(
        f"{server.url}/v1beta/models/local:countTokens",
        json={
            "generateContentRequest": {
                "contents": [{"parts": [{"text": "What is 2**10?"}]}],
                "tools": [{"codeExecution": {}}],
            }
        },
    )
    assert r.headers[HEADER] == "tokenizer"
    # with code execution the worked examples are part of the prompt
    assert r.json()["totalTokens"] > plain.total_tokens + 100
