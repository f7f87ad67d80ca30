"""A whole Agent run per cloud backend: faked cloud on loopback, the real sandbox runs the code."""

from __future__ import annotations

from agent.events import Done, TextDelta
from agent.loop import Agent
from agent.models.anthropic_backend import AnthropicModel
from agent.models.gemini_backend import GeminiModel

from .conftest import anthropic_sse


def test_gemini_agent_runs_the_code_and_answers(cloud, fixture_json, monkeypatch):
    cloud.reply_json(fixture_json("gemini_code_turn.json"))  # run_python("print(6*7)")
    cloud.reply_json(fixture_json("gemini_answer_turn.json"))  # "Final answer: 42"
    # the way a user configures it: a spec string, the key and (for a proxy) the base URL
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", cloud.url)
    agent = Agent("gemini:gemini-2.5-flash", max_steps=4)
    assert isinstance(agent.model, GeminiModel)
    result = agent.run("What is 6*7?")

    assert result.error is None, result.error
    assert result.final_answer == "42"
    assert result.steps == 2
    assert len(cloud.requests) == 2
    response = cloud.requests[1].body["contents"][-1]["parts"][0]["functionResponse"]
    assert response["name"] == "run_python"
    assert response["response"]["outcome"] == "OUTCOME_OK"
    assert response["response"]["output"].strip() == "42"  # printed by our sandbox
    kinds = [p.kind for p in result.parts]
    assert kinds[:3] == ["text", "code", "result"]
    assert result.usage.prompt_token_count == 212
    assert result.usage.tool_use_prompt_token_count == 268 - 212


def test_anthropic_agent_runs_the_code_and_answers(cloud, fixture_json, monkeypatch):
    # the loop streams (it forwards text as it arrives), so the API answers with events
    cloud.reply_sse(anthropic_sse(fixture_json("anthropic_code_turn.json")))
    cloud.reply_sse(anthropic_sse(fixture_json("anthropic_answer_turn.json")))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", cloud.url)
    agent = Agent("anthropic:claude-sonnet-5-5", max_steps=4)
    assert isinstance(agent.model, AnthropicModel)
    result = agent.run("What is 6*7?")

    assert result.error is None, result.error
    assert result.final_answer == "42"
    assert result.steps == 2
    [tool_result] = cloud.requests[1].body["messages"][-1]["content"]
    assert tool_result["type"] == "tool_result"
    assert tool_result["tool_use_id"] == cloud.requests[1].body["messages"][-2]["content"][-1]["id"]
    assert "is_error" not in tool_result
    assert tool_result["content"][0]["text"].strip() == "42"
    assert result.usage.prompt_token_count == 612


def test_gemini_agent_streams_text_through_the_loop(cloud, fixture_json):
    code_turn = fixture_json("gemini_code_turn.json")
    answer_turn = fixture_json("gemini_answer_turn.json")
    cloud.reply_sse([(None, code_turn)])
    cloud.reply_sse([(None, answer_turn)])
    model = GeminiModel("gemini-2.5-flash", api_key="test-key", base_url=cloud.url)
    events = list(Agent(model, max_steps=4).stream("What is 6*7?"))

    deltas = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "I'll compute the product" in deltas and "Final answer: 42" in deltas
    [done] = [e for e in events if isinstance(e, Done)]
    assert done.result.final_answer == "42"
    assert all("streamGenerateContent" in r.path for r in cloud.requests)
