"""GeminiModel against a fake Gemini API on loopback, through google-genai's real HTTP stack."""

from __future__ import annotations

import base64

import pytest

from agent.models.base import GenerateOptions, ModelError
from agent.models.gemini_backend import RUN_PYTHON_DECLARATION, GeminiModel
from agent.parts import (
    CodePart,
    FunctionCallPart,
    FunctionResponsePart,
    ImagePart,
    Message,
    ResultPart,
    TextPart,
)

MODEL = "gemini-2.5-flash"
PATH = f"/v1/models/{MODEL}:generateContent"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-figure").decode()
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}, "unit": {"type": "STRING"}},
        "required": ["city"],
    },
}


@pytest.fixture
def model(cloud) -> GeminiModel:
    m = GeminiModel(MODEL, api_key="test-key", base_url=cloud.url)
    m.retry_base_delay_s = 0.0
    return m


def question() -> list[Message]:
    return [Message.user("What is 6*7?")]


def after_one_run() -> list[Message]:
    return question() + [
        Message(
            role="model",
            parts=[
                TextPart(text="I'll compute the product with Python.\n"),
                CodePart(code="print(6*7)"),
                ResultPart(outcome="OUTCOME_OK", output="42\n"),
                ImagePart(data=PNG),
            ],
        )
    ]


def test_first_request_is_exactly_what_gemini_expects(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("gemini_code_turn.json"))
    options = GenerateOptions(temperature=0.2, max_output_tokens=512)
    turn = model.generate("Be careful.", question(), code_execution=True, options=options)

    [request] = cloud.requests
    assert request.path == PATH
    assert request.headers["x-goog-api-key"] == "test-key"
    assert request.body == {
        "contents": [{"role": "user", "parts": [{"text": "What is 6*7?"}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": "Be careful."}]},
        "tools": [{"functionDeclarations": [RUN_PYTHON_DECLARATION]}],
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 512},
    }
    assert "codeExecution" not in str(request.body)  # our sandbox, not Gemini's
    assert turn.code == "print(6*7)"
    assert turn.text == "I'll compute the product with Python.\n"
    assert turn.finish_reason == "CODE"
    assert turn.usage.prompt_tokens == 212
    assert turn.usage.output_tokens == 31 + 47  # thinking is billed as output


def test_code_and_result_become_function_call_and_response(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("gemini_code_turn.json"))
    cloud.reply_json(fixture_json("gemini_answer_turn.json"))
    model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    turn = model.generate("sys", after_one_run(), code_execution=True, options=GenerateOptions())

    second = cloud.requests[1].body
    assert second["contents"] == [
        {"role": "user", "parts": [{"text": "What is 6*7?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "I'll compute the product with Python.\n"},
                {
                    "functionCall": {"name": "run_python", "args": {"code": "print(6*7)"}},
                    # the thought signature Gemini sent with the call goes back with it
                    "thoughtSignature": "CiQBcsjafGxOZ1J0ZW5kZXJlZC1zaWduYXR1cmU=",
                },
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "run_python",
                        "response": {"outcome": "OUTCOME_OK", "output": "42\n"},
                    }
                },
                {"inlineData": {"mime_type": "image/png", "data": PNG}},
            ],
        },
    ]
    assert turn.code is None
    assert turn.finish_reason == "STOP"
    assert turn.text.endswith("Final answer: 42")
    assert (turn.usage.prompt_tokens, turn.usage.output_tokens) == (268, 14)


def test_user_functions_are_declared_and_their_calls_returned(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("gemini_function_call.json"))
    options = GenerateOptions(function_declarations=[WEATHER])
    turn = model.generate("", question(), code_execution=True, options=options)

    body = cloud.requests[0].body
    assert body["tools"] == [{"functionDeclarations": [RUN_PYTHON_DECLARATION, WEATHER]}]
    assert "systemInstruction" not in body
    assert turn.code is None
    assert turn.function_calls == [
        FunctionCallPart(name="get_weather", args={"city": "Paris", "unit": "celsius"})
    ]
    assert turn.finish_reason == "STOP"


def test_function_call_history_round_trips(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("gemini_answer_turn.json"))
    history = question() + [
        Message(role="model", parts=[FunctionCallPart(name="get_weather", args={"city": "Paris"})]),
        Message(
            role="user",
            parts=[FunctionResponsePart(name="get_weather", response={"temp_c": 21})],
        ),
    ]
    options = GenerateOptions(function_declarations=[WEATHER])
    model.generate("", history, code_execution=True, options=options)
    assert cloud.requests[0].body["contents"][1:] == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    # no signature of ours for this call: Google's documented stand-in
                    "thoughtSignature": "skip_thought_signature_validator",
                }
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}],
        },
    ]


def test_without_code_execution_no_tool_and_code_shown_as_text(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("gemini_answer_turn.json"))
    model.generate("sys", after_one_run(), code_execution=False, options=GenerateOptions())
    body = cloud.requests[0].body
    assert "tools" not in body
    assert body["contents"][1]["parts"][1] == {"text": "```python\nprint(6*7)\n```"}
    assert body["contents"][2]["parts"][0] == {"text": "```output\n42\n```"}


def test_429_is_retried_then_succeeds(model, cloud, fixture_json):
    cloud.reply_json(fixture_json("gemini_error_429.json"), status=429)
    cloud.reply_json(fixture_json("gemini_error_429.json"), status=503)
    cloud.reply_json(fixture_json("gemini_code_turn.json"))
    turn = model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert turn.code == "print(6*7)"
    assert len(cloud.requests) == 3
    assert cloud.requests[0].body == cloud.requests[2].body


def test_persistent_429_gives_up_with_a_clear_error(model, cloud, fixture_json):
    for _ in range(5):
        cloud.reply_json(fixture_json("gemini_error_429.json"), status=429)
    with pytest.raises(ModelError, match="429.*quota"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert len(cloud.requests) == 3  # bounded


@pytest.mark.parametrize("status", [400, 401, 403])
def test_bad_key_is_a_model_error_naming_the_env_var(model, cloud, fixture_json, status):
    body = fixture_json("gemini_error_401.json")
    body["error"]["code"] = status
    cloud.reply_json(body, status=status)
    with pytest.raises(ModelError, match="GEMINI_API_KEY"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert len(cloud.requests) == 1  # not retried


def test_unknown_model_is_a_model_error(model, cloud):
    error = {"error": {"code": 404, "message": "models/nope is not found", "status": "NOT_FOUND"}}
    cloud.reply_json(error, status=404)
    with pytest.raises(ModelError, match="unknown model"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())


@pytest.mark.parametrize(
    "body",
    [
        {},  # no candidates
        {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}]},
        {"candidates": [{"finishReason": "SAFETY"}]},
        {"promptFeedback": {"blockReason": "SAFETY"}},
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "run_python"}}]}}]},
    ],
)
def test_empty_or_malformed_response_is_a_model_error(model, cloud, body):
    cloud.reply_json(body)
    with pytest.raises(ModelError, match="gemini"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())


def test_non_json_response_is_a_model_error(model, cloud):
    cloud.reply_raw("<html>gateway hiccup</html>", content_type="text/html")
    with pytest.raises(ModelError, match="gemini"):
        model.generate("sys", question(), code_execution=True, options=GenerateOptions())


def test_max_tokens_is_reported(model, cloud):
    body = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "The answer is"}]},
                "finishReason": "MAX_TOKENS",
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 3},
    }
    cloud.reply_json(body)
    turn = model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert (turn.finish_reason, turn.text) == ("MAX_TOKENS", "The answer is")


def test_fenced_block_instead_of_tool_call_still_runs(model, cloud):
    text = "Let me compute.\n```python\nprint(6*7)\n```\nIt prints 42."
    body = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
        ]
    }
    cloud.reply_json(body)
    turn = model.generate("sys", question(), code_execution=True, options=GenerateOptions())
    assert turn.text.strip() == "Let me compute."
    assert turn.code.strip() == "print(6*7)"
    assert turn.finish_reason == "CODE"


def test_streaming_sends_text_and_stops_at_the_call(model, cloud, fixture_json):
    code_turn = fixture_json("gemini_code_turn.json")
    first = {"candidates": [{"content": {"role": "model", "parts": [{"text": "I'll compute "}]}}]}
    second = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "it.\n"}, code_turn["candidates"][0]["content"]["parts"][1]],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": code_turn["usageMetadata"],
    }
    cloud.reply_sse([(None, first), (None, second)])
    seen: list[str] = []
    turn = model.generate(
        "sys", question(), code_execution=True, options=GenerateOptions(), on_text=seen.append
    )
    assert cloud.requests[0].path == f"/v1/models/{MODEL}:streamGenerateContent?alt=sse"
    assert seen == ["I'll compute ", "it.\n"]
    assert (turn.text, turn.code, turn.finish_reason) == (
        "I'll compute it.\n",
        "print(6*7)",
        "CODE",
    )
    assert turn.usage.prompt_tokens == 212


def test_timeout_is_retried_then_a_model_error(cloud):
    import socket

    # a server that accepts but never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        model = GeminiModel(MODEL, api_key="k", base_url=url)
        model.retry_base_delay_s = 0.0
        with pytest.raises(ModelError, match="timed out"):
            model.generate(
                "sys", question(), code_execution=True, options=GenerateOptions(timeout_s=0.5)
            )
    finally:
        silent.close()


def test_missing_key_names_the_env_var(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(ModelError, match="GEMINI_API_KEY"):
        GeminiModel(MODEL)


def test_key_from_environment(monkeypatch, cloud, fixture_json):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "env-key")
    cloud.reply_json(fixture_json("gemini_answer_turn.json"))
    model = GeminiModel(MODEL, base_url=cloud.url)
    assert model.spec == f"gemini:{MODEL}"
    model.generate("sys", question(), code_execution=False, options=GenerateOptions())
    assert cloud.requests[0].headers["x-goog-api-key"] == "env-key"


def test_an_error_in_on_text_propagates_unchanged(model, cloud, fixture_json):
    first = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}}]}
    cloud.reply_sse([(None, first)])

    class Stop(Exception):
        pass

    def sink(_text: str) -> None:
        raise Stop

    with pytest.raises(Stop):
        model.generate(
            "sys", question(), code_execution=True, options=GenerateOptions(), on_text=sink
        )
    assert len(cloud.requests) == 1  # not retried


def test_bad_function_declaration_is_a_model_error(model, cloud):
    options = GenerateOptions(function_declarations=[{"name": "f", "parameters": "not a schema"}])
    with pytest.raises(ModelError, match="bad function declaration"):
        model.generate("sys", question(), code_execution=True, options=options)
    assert cloud.requests == []
