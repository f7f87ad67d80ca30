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
