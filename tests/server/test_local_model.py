"""The google-genai client, streaming, against the server running the real embedded model."""

from __future__ import annotations

import pytest
from google.genai import types

pytestmark = pytest.mark.slow


def test_sdk_stream_with_the_local_model(client_for, start_server) -> None:
    server = start_server(aliases={"gemini-2.0-flash": "local"})
    client = client_for(server.url)
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.0-flash",
            contents="How many times does the letter r occur in strawberry?",
            config=types.GenerateContentConfig(
                tools=[types.Tool(code_execution=types.ToolCodeExecution())]
            ),
        )
    )
    parts = [p for c in chunks for p in c.candidates[0].content.parts]
    assert any(p.executable_code for p in parts)
    results = [p.code_execution_result for p in parts if p.code_execution_result]
    assert results and results[0].outcome == types.Outcome.OUTCOME_OK
    text = "".join(p.text for p in parts if p.text)
    assert "3" in text.rsplit("Final", 1)[-1]
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata.prompt_token_count > 0
    assert last.usage_metadata.candidates_token_count > 0
    assert last.usage_metadata.tool_use_prompt_token_count > 0


def test_upload_a_csv_and_ask_the_local_model(client_for, start_server, tmp_path) -> None:
    """The cookbook's way to ask about a file, end to end: files.upload, then the file in
    generate_content; the model's code reads it in the sandbox."""
    sales = tmp_path / "sales.csv"
    sales.write_text("region,amount\nnorth,120\nsouth,80\neast,45\nwest,55\n")
    server = start_server(data_dir=tmp_path / "data", aliases={"gemini-2.0-flash": "local"})
    client = client_for(server.url)
    uploaded = client.files.upload(file=str(sales))
    response = client.models.generate_content(
        model="gemini-2.0-flash",
        contents=[uploaded, "What is the total of the amount column? Answer with the number."],
        config=types.GenerateContentConfig(
            tools=[types.Tool(code_execution=types.ToolCodeExecution())]
        ),
    )
    parts = response.candidates[0].content.parts
    code = "\n".join(p.executable_code.code for p in parts if p.executable_code)
    assert "sales.csv" in code
    assert "300" in "".join(
        p.code_execution_result.output for p in parts if p.code_execution_result
    )


@pytest.mark.filterwarnings("ignore:Environments usage is experimental")
def test_two_interactions_in_one_environment_with_the_local_model(
    client_for, start_server, tmp_path
) -> None:
    """Interactions in one environment on the real model: the second turn (another request)
    runs in the same sandbox session, so what the first computed is there."""
    server = start_server(data_dir=tmp_path / "data", aliases={"m": "local"})
    client = client_for(server.url)
    env = client.environments.create()
    tools = [{"type": "code_execution"}]
    first = client.interactions.create(
        model="m", input="Compute x = 12345 * 6789 in Python and print x.", tools=tools,
        environment=env.id,
    )  # fmt: skip
    results = [s.result for s in first.steps if s.type == "code_execution_result"]
    assert any("83810205" in r for r in results)
    second = client.interactions.create(
        model="m",
        input="The variable x is still defined. Print x % 1000 in Python.",
        tools=tools,
        environment=env.id,
        previous_interaction_id=first.id,
    )
    results = [s.result for s in second.steps if s.type == "code_execution_result"]
    assert any("205" in r for r in results)
