"""Request parsing and model-name resolution, without a server."""

from __future__ import annotations

import base64

import pytest

from agent.parts import CodePart, FunctionResponsePart, ImagePart, ResultPart, TextPart
from agent.server.config import ServerConfig, parse_args
from agent.server.errors import ApiError
from agent.server.responses import finish_fields
from agent.server.wire import file_name, parse_request


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_camel_and_snake_case_parse_the_same() -> None:
    camel = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"codeExecution": {}}, {"functionDeclarations": [{"name": "f"}]}],
        "generationConfig": {"temperature": 0.3, "maxOutputTokens": 50},
    }
    snake = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"code_execution": {}}, {"function_declarations": [{"name": "f"}]}],
        "generation_config": {"temperature": 0.3, "max_output_tokens": 50},
    }
    a, b = parse_request(camel), parse_request(snake)
    assert a == b
    assert a.code_execution is True
    assert a.system_instruction == "Be brief."
    assert a.options.function_declarations == [{"name": "f"}]
    assert (a.options.temperature, a.options.max_output_tokens) == (0.3, 50)


def test_no_code_execution_tool_means_no_code_execution() -> None:
    parsed = parse_request({"contents": [{"parts": [{"text": "hi"}]}], "tools": []})
    assert parsed.code_execution is False
    assert parsed.options.function_declarations == []


def test_inline_files_get_names_by_mime_type_or_display_name() -> None:
    body = {
        "contents": [
            {
                "parts": [
                    {"inlineData": {"mimeType": "text/csv", "data": _b64(b"a\n1\n")}},
                    {"inline_data": {"mime_type": "application/json", "data": _b64(b"{}")}},
                    {
                        "inlineData": {
                            "mimeType": "text/plain",
                            "data": _b64(b"x"),
                            "displayName": "../../etc/my notes.txt",
                        }
                    },
                    {"inlineData": {"mimeType": "text/csv", "data": _b64(b"b\n2\n")}},
                    {"text": "Sum them"},
                ]
            }
        ]
    }
    parts = parse_request(body).messages[0].parts
    names = [p.name for p in parts if isinstance(p, ImagePart)]
    assert names == ["file_1.csv", "file_2.json", "my_notes.txt", "file_4.csv"]
    assert isinstance(parts[-1], TextPart)


def test_duplicate_display_names_are_made_unique() -> None:
    blob = {"mimeType": "text/csv", "data": _b64(b"a"), "displayName": "data.csv"}
    body = {"contents": [{"parts": [{"inlineData": blob}, {"inlineData": blob}]}]}
    names = [p.name for p in parse_request(body).messages[0].parts]
    assert names[0] == "data.csv"
    assert names[1] != "data.csv" and names[1].endswith(".csv")


def test_model_turns_and_function_responses_keep_their_kinds() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            {
                "role": "model",
                "parts": [
                    {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                    {"codeExecutionResult": {"outcome": "OUTCOME_FAILED", "output": "boom"}},
                    {"functionCall": {"name": "f", "args": {"x": 1}}},
                ],
            },
            {"role": "function", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
        ]
    }
    messages = parse_request(body).messages
    assert [m.role for m in messages] == ["user", "model", "user"]
    code, result, call = messages[1].parts
    assert isinstance(code, CodePart) and code.code == "print(1)"
    assert isinstance(result, ResultPart) and result.outcome == "OUTCOME_FAILED"
    assert call.kind == "function_call" and call.args == {"x": 1}
    assert isinstance(messages[2].parts[0], FunctionResponsePart)


def test_thought_parts_and_signatures_are_ignored() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "q"}]},
            {
                "role": "model",
                "parts": [
                    {"text": "thinking...", "thought": True},
                    {"text": "A", "thoughtSignature": "x"},
                ],
            },
            {"role": "user", "parts": [{"text": "more"}]},
        ]
    }
    model_parts = parse_request(body).messages[1].parts
    assert [p.text for p in model_parts] == ["A"]


@pytest.mark.parametrize(
    "body",
    [
        {"contents": [{"parts": [{"videoBlob": {}}]}]},
        {"contents": [{"parts": []}]},
        {"contents": "hello"},
        {
            "contents": [{"parts": [{"text": "x"}]}],
            "tools": [{"codeExecution": {}, "retrieval": {}}],
        },
        {"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{}]}]},
        {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": 0}},
    ],
)
def test_bad_requests_raise_400(body) -> None:
    with pytest.raises(ApiError) as e:
        parse_request(body)
    assert e.value.code == 400 and e.value.status == "INVALID_ARGUMENT"


def test_file_name_fallbacks() -> None:
    assert file_name("text/csv; charset=utf-8", 3, None) == "file_3.csv"
    assert file_name("application/x-unknown-thing", 1, None) == "file_1.bin"
    assert file_name("text/csv", 1, "...") == "file_1.csv"


def test_model_names_resolve_to_specs() -> None:
    config = ServerConfig(model="local:0.5b", aliases={"gemini-2.0-flash": "openai:gpt-4o-mini"})
    assert config.resolve("default") == "local:0.5b"
    assert config.resolve("models/local") == "local"
    assert config.resolve("gemini-2.0-flash") == "openai:gpt-4o-mini"
    assert config.resolve("scripted:/tmp/x.json") is None  # reads a host file: opt-in only
    assert ServerConfig(allow_scripted=True).resolve("scripted:/x.json") == "scripted:/x.json"
    assert config.resolve("gemini-2.5-pro") is None
    assert config.resolve("openai:") is None
    assert ServerConfig(aliases_only=True).resolve("local:0.5b") is None
    assert ServerConfig(aliases={"*": "local:0.5b"}).resolve("gemini-2.5-pro") == "local:0.5b"


def test_command_line(monkeypatch) -> None:
    monkeypatch.setenv("CODEXEC_API_KEY", "from-env")
    config = parse_args(["--port", "9000", "--alias", "g=local:0.5b", "--max-concurrency", "2"])
    assert (config.port, config.api_key, config.max_concurrency) == (9000, "from-env", 2)
    assert config.aliases == {"g": "local:0.5b"}
    assert parse_args(["--api-key", "x"]).api_key == "x"
    with pytest.raises(SystemExit):
        parse_args(["--alias", "no-equals-sign"])


def test_finish_reasons_gemini_lacks_become_other_with_a_message() -> None:
    assert finish_fields("STOP") == {"finishReason": "STOP"}
    steps = finish_fields("MAX_STEPS")
    assert steps["finishReason"] == "OTHER" and "steps" in steps["finishMessage"]
    error = finish_fields("ERROR", "backend down")
    assert error["finishReason"] == "OTHER" and "backend down" in error["finishMessage"]
