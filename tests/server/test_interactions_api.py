"""Interactions API basics with the official google-genai client (scripted model, real sandbox)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

SUM = [
    {"text": "Computing.", "code": "print(sum(range(1, 101)))"},
    {"text": "Final answer: 5050"},
]
DOUBLE = [{"text": "", "code": "print(5050 * 2)"}, {"text": "Final answer: 10100"}]


def test_create_get_delete(client_for, start_server, script, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"gemini-2.5-flash": script(SUM)})
    client = client_for(server.url)
    interaction = client.interactions.create(
        model="gemini-2.5-flash",
        input="What is 1 + 2 + ... + 100?",
        tools=[{"type": "code_execution"}],
    )
    assert interaction.status == "completed"
    assert interaction.output_text == "Final answer: 5050"
    kinds = [s.type for s in interaction.steps]
    assert kinds == [
        "user_input",
        "model_output",
        "code_execution_call",
        "code_execution_result",
        "model_output",
    ]
    call, result = interaction.steps[2], interaction.steps[3]
    assert call.arguments.code == "print(sum(range(1, 101)))"
    assert call.arguments.language == "python"
    assert result.call_id == call.id
    assert result.result.strip() == "5050"  # run by the real sandbox
    assert not result.is_error
    assert interaction.usage.total_tokens > 0
    again = client.interactions.get(interaction.id)
    assert again.id == interaction.id
    assert again.output_text == "Final answer: 5050"
    client.interactions.delete(interaction.id)
    r = httpx.get(f"{server.url}/v1beta/interactions/{interaction.id}")
    assert r.status_code == 404


def test_previous_interaction_id_continues_the_conversation(
    client_for, start_server, script, tmp_path, created_models
) -> None:
    data = tmp_path / "data"
    first_server = start_server(data_dir=data, aliases={"m": script(SUM)})
    client = client_for(first_server.url)
    first = client.interactions.create(
        model="m", input="Sum 1..100", tools=[{"type": "code_execution"}]
    )
    first_server.stop()  # a restart keeps stored interactions
    server = start_server(data_dir=data, aliases={"m": script(DOUBLE)})
    client = client_for(server.url)
    second = client.interactions.create(
        model="m",
        input="Now double it.",
        previous_interaction_id=first.id,
        tools=[{"type": "code_execution"}],
    )
    assert second.previous_interaction_id == first.id
    assert second.output_text == "Final answer: 10100"
    assert [s.type for s in second.steps][0] == "user_input"
    history = created_models[-1].calls[0]["history"]
    texts = [m.text() for m in history]
    assert texts[0] == "Sum 1..100"
    assert "Final answer: 5050" in texts[1]
    assert texts[-1] == "Now double it."


def test_input_document_names_an_uploaded_file(
    client_for, start_server, script, tmp_path: Path
) -> None:
    path = tmp_path / "sales.csv"
    path.write_bytes(b"region,revenue\nnorth,120\nsouth,80\n")
    code = "import pandas as pd\nprint(pd.read_csv('sales.csv')['revenue'].sum())"
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.url)
    uploaded = client.files.upload(file=path)
    interaction = client.interactions.create(
        model=script([{"text": "", "code": code}, {"text": "Final answer: 200"}]),
        input=[
            {"type": "document", "uri": uploaded.uri, "mime_type": "text/csv"},
            {"type": "text", "text": "Total revenue?"},
        ],
        tools=[{"type": "code_execution"}],
    )
    [result] = [s for s in interaction.steps if s.type == "code_execution_result"]
    assert result.result.strip() == "200"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"model": "m", "input": "x", "background": True, "store": False}, 400, "background"),
        ({"model": "m", "input": "x", "tools": [{"type": "google_search"}]}, 400, "google_search"),
        ({"model": "m"}, 400, "input"),
        ({"input": "x"}, 400, "model"),
        ({"model": "nosuch", "input": "x"}, 404, "nosuch"),
        ({"model": "m", "input": "x", "previous_interaction_id": "gone"}, 404, "gone"),
        ({"model": "m", "input": [{"type": "hologram"}]}, 400, "hologram"),
    ],
)
def test_bad_interactions_are_clear_errors(
    start_server, script, tmp_path, body, code, message
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases_only=True, aliases={"m": script(SUM)})
    r = httpx.post(f"{server.url}/v1beta/interactions", json=body)
    assert r.status_code == code, r.text
    assert message in r.json()["error"]["message"]
