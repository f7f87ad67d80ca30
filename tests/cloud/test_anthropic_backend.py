"""AnthropicModel against a fake Messages API on loopback, through the anthropic SDK's HTTP stack."""

from __future__ import annotations

import base64

import pytest

from agent.models.anthropic_backend import RUN_PYTHON_TOOL, AnthropicModel
from agent.models.base import GenerateOptions, ModelError
from agent.parts import (
    CodePart,
    FunctionCallPart,
    FunctionResponsePart,
    ImagePart,
    Message,
    ResultPart,
    TextPart,
)

MODEL = "claude-sonnet-5-5"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-figure").decode()
WEATHER_GEMINI = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING"},
            "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"], "nullable": True},
        },
        "required": ["city"],
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
RETRY_NOW = {"retry-after-ms": "1"}


@pytest.fixture
def model(cloud) -> AnthropicModel:
    return AnthropicModel(MODEL, api_key="test-key", base_url=cloud.url)


def question() -> list[Message]:
    return [Message.user("What is 6*7?")]


def after_runs(*results: tuple[str, str]) -> list[Message]:
    parts: list = [TextPart(text="I'll compute the product with Python.")]
    for outcome, output in results:
        parts += [CodePart(code="print(6*7)"), ResultPart(outcome=outcome, output=output)]
    parts.append(ImagePart(data=PNG))
    return question() + [Message(role="model", parts=parts)]


def test_first_request_is_exactly_what_anthropic_expects(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("anthropic_code_turn.json"))
    options = GenerateOptions(max_output_tokens=777)
    turn = model.generate("Be careful.", question(), code_execution=True, options=options)

    [request] = cloud.requests
    assert request.path == "/v1/messages"
    assert "test-key" in (
        request.headers.get("x-api-key", "") + request.headers.get("authorization", "")
    )
    assert request.body == {
        "model": MODEL,
        "max_tokens": 777,
        "system": "Be careful.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is 6*7?"}]}],
        "tools": [RUN_PYTHON_TOOL],
    }
    assert turn.code == "print(6*7)"
    assert turn.text == "I'll compute the product with Python."
    assert turn.finish_reason == "CODE"
    assert (turn.usage.prompt_tokens, turn.usage.output_tokens) == (612, 58)


def test_code_and_result_become_tool_use_and_tool_result(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("anthropic_answer_turn.json"))
    history = after_runs(
        ("OUTCOME_FAILED", "NameError: name 'x' is not defined"), ("OUTCOME_OK", "42\n")
    )
    turn = model.generate("sys", history, code_execution=True, options=GenerateOptions())

    assert cloud.requests[0].body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What is 6*7?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll compute the product with Python."},
                {
                    "type": "tool_use",
                    "id": "toolu_run_python_1",
                    "name": "run_python",
                    "input": {"code": "print(6*7)"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_run_python_1",
                    "content": [
                        {
                            "type": "text",
                            "text": "OUTCOME_FAILED\nNameError: name 'x' is not defined",
                        }
                    ],
                    "is_error": True,
                }
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_run_python_2",
                    "name": "run_python",
                    "input": {"code": "print(6*7)"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_run_python_2",
                    "content": [
                        {"type": "text", "text": "42\n"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                    ],
                }
            ],
        },
    ]
    assert turn.code is None
    assert turn.finish_reason == "STOP"
    assert turn.text.endswith("Final answer: 42")


def test_user_functions_become_tools_and_calls_come_back(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("anthropic_function_call.json"))
    options = GenerateOptions(function_declarations=[WEATHER_GEMINI])
    turn = model.generate("", question(), code_execution=True, options=options)

    body = cloud.requests[0].body
    assert body["tools"] == [RUN_PYTHON_TOOL, WEATHER_ANTHROPIC]
    assert "system" not in body
    assert turn.code is None
    assert turn.function_calls == [
        FunctionCallPart(
            name="get_weather", args={"city": "Paris", "unit": "celsius"}, id="toolu_01Weather9x"
        )
    ]
    assert turn.text == "Let me check the weather."


def test_function_response_is_a_tool_result_for_its_call(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("anthropic_answer_turn.json"))
    history = question() + [
        Message(
            role="model",
            parts=[FunctionCallPart(name="get_weather", args={"city": "Paris"}, id="toolu_01W")],
        ),
        Message(
            role="user",
            parts=[
                FunctionResponsePart(name="get_weather", response={"temp_c": 21}, id="toolu_01W")
            ],
        ),
    ]
    model.generate(
        "",
        history,
        code_execution=False,
        options=GenerateOptions(function_declarations=[WEATHER_GEMINI]),
    )
    assert cloud.requests[0].body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_01W",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01W",
                    "content": [{"type": "text", "text": '{"temp_c": 21}'}],
                }
            ],
        },
    ]


def test_without_code_execution_code_is_shown_as_text(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("anthropic_answer_turn.json"))
    model.generate(
        "sys", after_runs(("OUTCOME_OK", "42\n")), code_execution=False, options=GenerateOptions()
    )
    body = cloud.requests[0].body
    assert "tools" not in body
    assert body["messages"][1]["content"][1] == {
        "type": "text",
        "text": "```python\nprint(6*7)\n```",
    }
    assert body["messages"][2]["content"][0] == {"type": "text", "text": "```output\n42\n```"}


def test_429_then_200_is_retried_by_the_sdk(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("anthropic_error_429.json"), status=429, headers=RETRY_NOW)
    cloud.reply_json(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        status=529,
        headers=RETRY_NOW,
    )
    cloud.reply_json(fixture_json("anthropic_code_turn.json"))
    turn = model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert turn.code == "print(6*7)"
    assert len(cloud.requests) == 3
    assert [r.headers["x-stainless-retry-count"] for r in cloud.requests] == ["0", "1", "2"]
    assert cloud.requests[0].body == cloud.requests[2].body


def test_persistent_429_gives_up_with_a_clear_error(model, cloud, fixture_json):
    for _ in range(6):
        cloud.reply_json(fixture_json("anthropic_error_429.json"), status=429, headers=RETRY_NOW)
    with pytest.raises(ModelError, match="429.*rate limit"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert len(cloud.requests) == 4  # bounded: 1 + 3 retries


def test_401_is_a_model_error_naming_the_env_var(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("anthropic_error_401.json"), status=401)
    with pytest.raises(ModelError, match="invalid x-api-key.*ANTHROPIC_API_KEY"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert len(cloud.requests) == 1


def test_unknown_model_is_a_model_error(model, cloud):
    error = {"type": "error", "error": {"type": "not_found_error", "message": "model: nope"}}
    cloud.reply_json(error, status=404)
    with pytest.raises(ModelError, match="unknown model"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())


@pytest.mark.parametrize(
    "content, stop_reason",
    [
        ([], "end_turn"),
        ([{"type": "text", "text": ""}], "end_turn"),
        ([{"type": "tool_use", "id": "toolu_1", "name": "run_python", "input": {}}], "tool_use"),
    ],
)
def test_empty_or_malformed_response_is_a_model_error(
    model, cloud, fixture_json, content, stop_reason
):
    body = fixture_json("anthropic_answer_turn.json") | {
        "content": content,
        "stop_reason": stop_reason,
    }
    cloud.reply_json(body)
    with pytest.raises(ModelError, match="anthropic"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())


def test_non_json_response_is_a_model_error(model, cloud):
    cloud.reply_raw("<html>gateway hiccup</html>", content_type="text/html")
    with pytest.raises(ModelError, match="anthropic"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())


def test_max_tokens_is_reported(model, cloud, fixture_json):
    body = fixture_json("anthropic_answer_turn.json") | {
        "content": [{"type": "text", "text": "The answer is"}],
        "stop_reason": "max_tokens",
    }
    cloud.reply_json(body)
    turn = model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert (turn.finish_reason, turn.text) == ("MAX_TOKENS", "The answer is")


def test_streaming_sends_text_and_stops_at_the_tool_use(model, cloud):
    message = {
        "id": "msg_01S",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 612, "output_tokens": 1},
    }
    tool = {"type": "tool_use", "id": "toolu_01S", "name": "run_python", "input": {}}
    cloud.reply_sse(
        [
            ("message_start", {"type": "message_start", "message": message}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "I'll compute "},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "it."},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 1, "content_block": tool},
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '{"code": "print(6'},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": '*7)"}'},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 1}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                    "usage": {"output_tokens": 58},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    )
    seen: list[str] = []
    turn = model.generate(
        "sys", question(), code_execution=True, options=GenerateOptions(), on_text=seen.append
    )
    assert cloud.requests[0].body["stream"] is True
    assert seen == ["I'll compute ", "it."]
    assert (turn.text, turn.code, turn.finish_reason) == ("I'll compute it.", "print(6*7)", "CODE")
    assert (turn.usage.prompt_tokens, turn.usage.output_tokens) == (612, 58)


def test_missing_key_names_the_env_var(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY"):
        AnthropicModel(MODEL)


def test_key_from_environment(monkeypatch, cloud, fixture_json):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    cloud.reply_json(fixture_json("anthropic_answer_turn.json"))
    model = AnthropicModel(MODEL, base_url=cloud.url)
    assert model.spec == f"anthropic:{MODEL}"
    model.generate("sys", question(), code_execution=False, options=GenerateOptions())
    headers = cloud.requests[0].headers
    assert "env-key" in headers.get("x-api-key", "") + headers.get("authorization", "")


def test_timeout_is_retried_then_a_model_error():
    import socket

    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        model = AnthropicModel(MODEL, api_key="k", base_url=url)
        with pytest.raises(ModelError, match="timed out"):
            model.generate(
                "sys", question(), code_execution=True, options=GenerateOptions(timeout_s=0.3)
            )
    finally:
        silent.close()


def test_calls_without_ids_get_distinct_ids_matched_by_their_responses():
    from agent.models.anthropic_backend import to_messages

    def call(city: str) -> Message:
        return Message(
            role="model", parts=[FunctionCallPart(name="get_weather", args={"city": city})]
        )

    def answer(temp: int) -> Message:
        return Message(
            role="user", parts=[FunctionResponsePart(name="get_weather", response={"t": temp})]
        )

    messages = to_messages(question() + [call("Paris"), answer(21), call("Oslo"), answer(3)], True)
    uses = [b["id"] for m in messages for b in m["content"] if b["type"] == "tool_use"]
    results = [
        b["tool_use_id"] for m in messages for b in m["content"] if b["type"] == "tool_result"
    ]
    assert len(set(uses)) == 2
    assert results == uses
