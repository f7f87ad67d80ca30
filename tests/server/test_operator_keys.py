"""With operator model keys set, clients may use only the aliases the operator chose."""

from __future__ import annotations

import httpx
import pytest

from agent.server.config import ServerConfig, parse_args

HELLO = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "GEMINI_API_KEY", "ANTHROPIC_API_KEY"])
def test_operator_keys_make_aliases_only_the_default(monkeypatch, variable: str) -> None:
    monkeypatch.setenv(variable, "sk-operator-secret")
    config = parse_args([])
    assert config.aliases_only is True
    for spec in ("openai:gpt-4o", "gemini:gemini-2.5-pro", "anthropic:claude-opus-4", "local:0.5b"):
        assert config.resolve(spec) is None
    assert config.resolve("default") == "local"  # the operator's own aliases still work
    assert ServerConfig().aliases_only is True  # programmatic use gets the same default


def test_the_opt_out_flag_and_the_default_without_keys(monkeypatch) -> None:
    assert parse_args([]).aliases_only is False  # no operator keys: raw specs as before
    assert parse_args([]).resolve("local:0.5b") == "local:0.5b"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-secret")
    assert parse_args(["--allow-raw-specs"]).aliases_only is False
    assert parse_args(["--allow-raw-specs"]).resolve("openai:gpt-4o") == "openai:gpt-4o"
    assert parse_args(["--aliases-only"]).aliases_only is True
    with pytest.raises(SystemExit):
        parse_args(["--aliases-only", "--allow-raw-specs"])


def test_a_client_cannot_spend_the_operators_key(monkeypatch, start_server, script) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-secret")
    server = start_server(aliases={"mine": script([{"text": "Final answer: 1"}])})
    for name in ("openai:gpt-4o", "gemini:gemini-2.5-pro", "anthropic:claude-opus-4"):
        url = f"{server.url}/v1beta/models/{name}:generateContent"
        response = httpx.post(url, json=HELLO, timeout=30)
        assert response.status_code == 404, response.text
        assert "only its model aliases" in response.json()["error"]["message"]
    url = f"{server.url}/v1beta/models/mine:generateContent"
    assert httpx.post(url, json=HELLO, timeout=30).status_code == 200
