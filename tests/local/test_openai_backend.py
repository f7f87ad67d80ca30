"""The OpenAI-compatible backend against faked HTTP (respx): exact requests and fault handling."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from agent.models.base import GenerateOptions, ModelError
from agent.models.fenced import STOP, render_history
from agent.models.openai_backend import RUN_PYTHON_TOOL, OpenAIModel
from agent.parts import CodePart, FunctionCallPart, Message, ResultPart, TextPart
from agent.prompts import EXAMPLES, few_shot_messages

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"
pytestmark = pytest.mark.usefixtures("respx_httpx2")
FAST = {"retry-after-ms": "1"}  # the SDK honours it: retries without the default backoff


def completion(
    content: str | None = None,
    finish: str = "stop",
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not False:
        body["usage"] = usage or {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
    return body


def model(**kw: Any) -> OpenAIModel:
    kw.setdefault("few_shot", False)
    return OpenAIModel("m", base_url=BASE, api_key="k", **kw)


def sent(route: respx.Route, n: int = -1) -> dict[str, Any]:
    return json.loads(route.calls[n].request.content)


HISTORY = [
    Message.user("How many r in strawberry?"),
    Message(
        role="model",
        parts=[
            TextPart(text="Counting.\n"),
            CodePart(code="print('strawberry'.count('r'))"),
            ResultPart(outcome="OUTCOME_OK", output="3\n"),
        ],
    ),
]


@respx.mock
def test_fenced_mode_request_and_code() -> None:
    route = respx.post(URL).respond(
        json=completion("Let me count.\n```python\nprint('strawberry'.count('r'))")
    )
    seen: list[str] = []
    turn = model().generate(
        "SYS",
        HISTORY[:1],
        code_execution=True,
        options=GenerateOptions(max_output_tokens=300),
        on_text=seen.append,
    )
    body = sent(route)
    assert body["model"] == "m"
    assert body["messages"] == [
        {"role": "system", "content": "SYS"},
        {"role": "user", "content": "How many r in strawberry?"},
    ]
    assert body["stop"] == STOP
    assert body["max_tokens"] == 300 and body["temperature"] == 0.0
    assert "tools" not in body
    assert route.calls[0].request.headers["authorization"] == "Bearer k"
    assert turn.code == "print('strawberry'.count('r'))"
    assert turn.text == "Let me count.\n" and seen == ["Let me count.\n"]
    assert turn.finish_reason == "CODE"
    assert (turn.usage.prompt_tokens, turn.usage.output_tokens) == (42, 7)


@respx.mock
def test_fenced_mode_renders_results_as_output_blocks() -> None:
    route = respx.post(URL).respond(json=completion("Final answer: 3"))
    turn = model().generate("S", HISTORY, code_execution=True, options=GenerateOptions())
    assert sent(route)["messages"][2:] == [
        {
            "role": "assistant",
            "content": "Counting.\n```python\nprint('strawberry'.count('r'))\n```",
        },
        {"role": "user", "content": "```output\n3\n```"},
    ]
    assert (turn.text, turn.code, turn.finish_reason) == ("Final answer: 3", None, "STOP")


@respx.mock
def test_few_shot_turns_come_before_the_question() -> None:
    route = respx.post(URL).respond(json=completion("Final answer: 3"))
    backend = model(few_shot=True)
    prompt = backend.default_strategy().prompt(HISTORY[:1], code_execution=True)
    backend.generate("S", prompt.history, code_execution=True, options=GenerateOptions())
    messages = sent(route)["messages"]
    shots = render_history(few_shot_messages())
    assert messages == [
        {"role": "system", "content": "S"},
        *shots,
        {"role": "user", "content": "How many r in strawberry?"},
    ]
    assert len(shots) == 4 * len(EXAMPLES)  # question, code, output, answer


@respx.mock
def test_few_shot_turns_stay_for_the_answer_after_the_retry_limit() -> None:
    route = respx.post(URL).respond(json=completion("Final answer: 3"))
    options = GenerateOptions()
    backend = model(few_shot=True)
    for history in (HISTORY, HISTORY[:1]):
        prompt = backend.default_strategy().prompt(history, code_execution=False)
        backend.generate("S", prompt.history, code_execution=False, options=options)
    shots = render_history(few_shot_messages())
    assert sent(route, 0)["messages"][1 : 1 + len(shots)] == shots  # the solve ran code
    assert sent(route, 1)["messages"][1:] == [
        {"role": "user", "content": "How many r in strawberry?"}
    ]


@respx.mock
def test_no_code_execution_sends_no_stop_and_ignores_code() -> None:
    route = respx.post(URL).respond(json=completion("```python\nprint(1)\n```\nFinal answer: 1"))
    turn = model().generate("S", HISTORY[:1], code_execution=False, options=GenerateOptions())
    assert "stop" not in sent(route) and "tools" not in sent(route)
    assert turn.code is None and turn.finish_reason == "STOP"


@respx.mock
def test_unclosed_fence_at_max_tokens_is_not_run() -> None:
    respx.post(URL).respond(json=completion("```python\nfor i in range(", finish="length"))
    turn = model().generate("S", HISTORY[:1], code_execution=True, options=GenerateOptions())
    assert turn.code is None and turn.finish_reason == "MAX_TOKENS"


@respx.mock
def test_native_tools_mode() -> None:
    call = {
        "id": "call_a",
        "type": "function",
        "function": {"name": "run_python", "arguments": json.dumps({"code": "print(6*7)"})},
    }
    route = respx.post(URL).respond(json=completion(None, "tool_calls", [call]))
    decl = {
        "name": "lookup",
        "description": "Look a word up",
        "parameters": {"type": "OBJECT", "properties": {"word": {"type": "STRING"}}},
    }
    turn = model(tools=True).generate(
        "S", HISTORY, code_execution=True, options=GenerateOptions(function_declarations=[decl])
    )
    body = sent(route)
    assert "stop" not in body
    assert body["tools"] == [
        RUN_PYTHON_TOOL,
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up",
                "parameters": {"type": "object", "properties": {"word": {"type": "string"}}},
            },
        },
    ]
    assert body["messages"][2:] == [
        {
            "role": "assistant",
            "content": "Counting.\n",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "run_python",
                        "arguments": json.dumps({"code": "print('strawberry'.count('r'))"}),
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "3\n"},
    ]
    assert (turn.code, turn.finish_reason) == ("print(6*7)", "CODE")


def test_tools_mode_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEXEC_OPENAI_TOOLS", "1")
    assert model().tools is True
    monkeypatch.setenv("CODEXEC_OPENAI_TOOLS", "0")
    assert model().tools is False


@respx.mock
def test_user_function_calls_come_back() -> None:
    call = {
        "id": "call_z",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"word": "cat"}'},
    }
    route = respx.post(URL).respond(json=completion("", "tool_calls", [call]))
    decl = {"name": "lookup", "parameters": {"type": "object", "properties": {}}}
    history = [
        *HISTORY,
        Message(role="model", parts=[FunctionCallPart(name="lookup", args={"w": 1}, id="x1")]),
    ]
    turn = model().generate(
        "S", history, code_execution=True, options=GenerateOptions(function_declarations=[decl])
    )
    assert sent(route)["tools"][0]["function"]["name"] == "lookup"  # no run_python in fenced mode
    assert turn.function_calls == [
        FunctionCallPart(name="lookup", args={"word": "cat"}, id="call_z")
    ]
    assert turn.code is None


@respx.mock
def test_429_then_success_is_retried() -> None:
    route = respx.post(URL)
    route.side_effect = [
        httpx.Response(429, json={"error": {"message": "slow down"}}, headers=FAST),
        httpx.Response(200, json=completion("Final answer: 2")),
    ]
    turn = model().generate("S", HISTORY[:1], code_execution=True, options=GenerateOptions())
    assert route.call_count == 2
    assert turn.text == "Final answer: 2"


@respx.mock
def test_500s_until_the_retries_run_out() -> None:
    route = respx.post(URL).respond(500, json={"error": {"message": "boom"}}, headers=FAST)
    with pytest.raises(ModelError, match="HTTP 500"):
        model(max_retries=2).generate(
            "S", HISTORY[:1], code_execution=True, options=GenerateOptions()
        )
    assert route.call_count == 3


@respx.mock
def test_timeout_is_a_clear_error() -> None:
    route = respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ModelError, match="within 5 s"):
        model(max_retries=1).generate(
            "S", HISTORY[:1], code_execution=True, options=GenerateOptions(timeout_s=5)
        )
    assert route.call_count == 2


@respx.mock
def test_bad_key_names_the_variable() -> None:
    respx.post(URL).respond(401, json={"error": {"message": "invalid key"}})
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        model().generate("S", HISTORY[:1], code_execution=True, options=GenerateOptions())


@respx.mock
def test_empty_choices_is_an_error() -> None:
    body = completion("x")
    body["choices"] = []
    respx.post(URL).respond(json=body)
    with pytest.raises(ModelError, match="no choices"):
        model().generate("S", HISTORY[:1], code_execution=True, options=GenerateOptions())


@respx.mock
def test_usage_estimated_when_the_server_reports_none() -> None:
    body = completion("Final answer: 12345678")
    del body["usage"]
    respx.post(URL).respond(json=body)
    turn = model().generate("S" * 400, HISTORY[:1], code_execution=True, options=GenerateOptions())
    assert turn.usage.prompt_tokens >= 100 and turn.usage.output_tokens >= 5


def test_missing_key_without_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelError, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-4o-mini")
    monkeypatch.setenv("OPENAI_BASE_URL", BASE)
    assert OpenAIModel("local").base_url == BASE  # a local server needs no key
