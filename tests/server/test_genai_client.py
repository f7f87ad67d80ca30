"""The official google-genai client against our server: scripted model, real sandbox."""

from __future__ import annotations

import pytest
from google.genai import errors, types

CODE_TOOL = types.Tool(code_execution=types.ToolCodeExecution())

TWO_STEPS = [
    {
        "text": "Let me compute it.",
        "code": "print(sum(range(1, 101)))",
        "usage": {"prompt_tokens": 100, "output_tokens": 12},
    },
    {"text": "Final answer: 5050", "usage": {"prompt_tokens": 140, "output_tokens": 6}},
]


def test_generate_content_runs_code(client_for, start_server, script) -> None:
    server = start_server(aliases={"gemini-2.0-flash": script(TWO_STEPS)})
    client = client_for(server.url)
    response = client.models.generate_content(
        model="gemini-2.0-flash",
        contents="What is 1 + 2 + ... + 100?",
        config=types.GenerateContentConfig(tools=[CODE_TOOL]),
    )
    parts = response.candidates[0].content.parts
    assert parts[0].text == "Let me compute it."
    assert parts[1].executable_code.code == "print(sum(range(1, 101)))"
    assert parts[1].executable_code.language == types.Language.PYTHON
    result = parts[2].code_execution_result
    assert result.outcome == types.Outcome.OUTCOME_OK
    assert result.output.strip() == "5050"  # computed by the real sandbox
    assert parts[-1].text == "Final answer: 5050"
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage.prompt_token_count == 100
    assert usage.candidates_token_count == 18
    assert usage.tool_use_prompt_token_count == 40
    assert usage.total_token_count == 158
    assert response.model_version.startswith("scripted:")


def test_stream_yields_parts_as_they_come(client_for, start_server, script) -> None:
    server = start_server()
    client = client_for(server.url)
    chunks = list(
        client.models.generate_content_stream(
            model=script(TWO_STEPS),
            contents="What is 1 + 2 + ... + 100?",
            config=types.GenerateContentConfig(tools=[CODE_TOOL]),
        )
    )
    assert len(chunks) >= 4
    parts = [p for c in chunks if c.candidates[0].content for p in c.candidates[0].content.parts]
    text = "".join(p.text for p in parts if p.text)
    assert text == "Let me compute it.Final answer: 5050"
    codes = [p.executable_code.code for p in parts if p.executable_code]
    outputs = [p.code_execution_result.output.strip() for p in parts if p.code_execution_result]
    assert codes == ["print(sum(range(1, 101)))"]
    assert outputs == ["5050"]
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata.tool_use_prompt_token_count == 40
    assert last.usage_metadata.total_token_count == 158
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])


def test_figure_comes_back_as_inline_png(client_for, start_server, script) -> None:
    draw = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.title('squares')\nplt.show()"
    server = start_server()
    client = client_for(server.url)
    response = client.models.generate_content(
        model=script([{"text": "", "code": draw}, {"text": "Final answer: drawn"}]),
        contents="Plot the squares",
        config=types.GenerateContentConfig(tools=[CODE_TOOL]),
    )
    images = [p.inline_data for p in response.candidates[0].content.parts if p.inline_data]
    assert len(images) == 1
    assert images[0].mime_type == "image/png"
    assert images[0].data.startswith(b"\x89PNG\r\n\x1a\n")
    # as on Gemini, the code result holds what the code printed: no "[figure 1 shown]" marker
    # (that line is for the model, which does not see the image)
    results = [p.code_execution_result for p in response.candidates[0].content.parts]
    outputs = [r.output for r in results if r is not None]
    assert len(outputs) == 1 and "figure" not in (outputs[0] or "")


def test_inline_csv_is_a_file_the_code_reads(
    client_for, start_server, script, created_models
) -> None:
    code = "import pandas as pd\ndf = pd.read_csv('file_1.csv')\nprint(df['y'].sum() * 10)"
    server = start_server()
    client = client_for(server.url)
    response = client.models.generate_content(
        model=script([{"text": "", "code": code}, {"text": "Final answer: 70"}]),
        contents=[
            types.Part.from_bytes(data=b"x,y\n1,3\n2,4\n", mime_type="text/csv"),
            "What is ten times the sum of y?",
        ],
        config=types.GenerateContentConfig(tools=[CODE_TOOL]),
    )
    result = response.candidates[0].content.parts[1].code_execution_result
    assert result.outcome == types.Outcome.OUTCOME_OK, result.output
    assert result.output.strip() == "70"
    [model] = created_models
    assert "file_1.csv" in model.calls[0]["system"]


def test_function_declarations_alongside_code_execution(
    client_for, start_server, script, created_models
) -> None:
    call = {"name": "get_weather", "args": {"city": "Paris"}}
    server = start_server()
    weather = types.FunctionDeclaration(
        name="get_weather",
        description="Current weather in a city",
        parameters=types.Schema(
            type=types.Type.OBJECT,
            properties={"city": types.Schema(type=types.Type.STRING)},
            required=["city"],
        ),
    )
    config = types.GenerateContentConfig(
        tools=[CODE_TOOL, types.Tool(function_declarations=[weather])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    client = client_for(server.url)
    response = client.models.generate_content(
        model=script([{"text": "", "function_calls": [call]}]),
        contents="Weather in Paris?",
        config=config,
    )
    [fc] = response.function_calls
    assert (fc.name, fc.args) == ("get_weather", {"city": "Paris"})
    [model] = created_models
    given = model.calls[0]
    assert given["code_execution"] is True
    [declaration] = given["options"].function_declarations
    assert declaration["name"] == "get_weather"
    assert "city" in str(declaration)


def test_without_code_execution_the_model_just_answers(
    client_for, start_server, script, created_models
) -> None:
    server = start_server()
    client = client_for(server.url)
    response = client.models.generate_content(
        model=script([{"text": "Final answer: 4"}]),
        contents="2+2?",
        config=types.GenerateContentConfig(
            system_instruction="Answer tersely.", temperature=0.5, max_output_tokens=77
        ),
    )
    assert response.text == "Final answer: 4"
    [model] = created_models
    given = model.calls[0]
    assert given["code_execution"] is False
    assert "Answer tersely." in given["system"]
    assert (given["options"].temperature, given["options"].max_output_tokens) == (0.5, 77)


def test_multi_turn_history_reaches_the_model(
    client_for, start_server, script, created_models
) -> None:
    server = start_server()
    history = [
        types.Content(role="user", parts=[types.Part(text="Compute 6*7")]),
        types.Content(
            role="model",
            parts=[
                types.Part(
                    executable_code=types.ExecutableCode(code="print(6*7)", language="PYTHON")
                ),
                types.Part(
                    code_execution_result=types.CodeExecutionResult(
                        outcome="OUTCOME_OK", output="42\n"
                    )
                ),
                types.Part(text="Final answer: 42"),
            ],
        ),
        types.Content(role="user", parts=[types.Part(text="And doubled?")]),
    ]
    client = client_for(server.url)
    response = client.models.generate_content(
        model=script([{"text": "Final answer: 84"}]),
        contents=history,
        config=types.GenerateContentConfig(tools=[CODE_TOOL]),
    )
    assert response.text == "Final answer: 84"
    seen = created_models[0].calls[0]["history"]
    assert [m.role for m in seen] == ["user", "model", "user"]
    assert [p.kind for p in seen[1].parts] == ["code", "result", "text"]
    assert seen[1].parts[1].output == "42\n"


def test_api_key_required_when_configured(client_for, start_server, script) -> None:
    server = start_server(api_key="s3cret", aliases={"m": script([{"text": "ok"}] * 2)})
    good, bad = client_for(server.url, "s3cret"), client_for(server.url, "nope")
    assert good.models.generate_content(model="m", contents="hi").text == "ok"
    with pytest.raises(errors.ClientError) as wrong:
        bad.models.generate_content(model="m", contents="hi")
    assert wrong.value.code == 403
    assert wrong.value.status == "PERMISSION_DENIED"


def test_unknown_model_is_a_404_for_the_sdk(client_for, start_server) -> None:
    server = start_server()
    client = client_for(server.url)
    with pytest.raises(errors.ClientError) as e:
        client.models.generate_content(model="gemini-2.0-flash", contents="hi")
    assert e.value.code == 404
    assert e.value.status == "NOT_FOUND"
    assert "gemini-2.0-flash" in e.value.message


def test_models_list_and_get_through_the_sdk(client_for, start_server) -> None:
    server = start_server(model="local:0.5b", aliases={"gemini-2.0-flash": "local"})
    client = client_for(server.url)
    names = [m.name for m in client.models.list()]
    assert names == ["models/default", "models/local", "models/gemini-2.0-flash"]
    info = client.models.get(model="default")
    assert info.description == "codexec: local:0.5b"
    assert "generateContent" in info.supported_actions


def test_function_response_round_trip(client_for, start_server, script, created_models) -> None:
    server = start_server()
    client = client_for(server.url)
    history = [
        types.Content(role="user", parts=[types.Part(text="Weather in Paris, in Fahrenheit?")]),
        types.Content(
            role="model",
            parts=[types.Part.from_function_call(name="get_weather", args={"city": "Paris"})],
        ),
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"c": 20})],
        ),
    ]
    response = client.models.generate_content(
        model=script(
            [{"text": "", "code": "print(20 * 9 / 5 + 32)"}, {"text": "Final answer: 68"}]
        ),
        contents=history,
        config=types.GenerateContentConfig(tools=[CODE_TOOL]),
    )
    assert response.code_execution_result.strip() == "68.0"
    seen = created_models[0].calls[0]["history"]
    assert seen[2].parts[0].kind == "function_response"
    assert seen[2].parts[0].response == {"c": 20}
