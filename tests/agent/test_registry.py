from __future__ import annotations

import subprocess
import sys

import pytest

from agent.models import OPERATOR_CREDENTIALS, PROVIDERS, SPEC_PREFIXES, VALID_SPECS, get_model
from agent.models.base import BadModelSpecError, MissingKeyError, ModelError
from agent.models.scripted import ScriptedModel
from agent.server.config import is_spec

KEYS = OPERATOR_CREDENTIALS


def test_every_spec_list_derives_from_the_one_table():
    for provider in PROVIDERS:
        assert f"{provider.kind}:" in SPEC_PREFIXES and is_spec(f"{provider.kind}:x")
        assert all(form in VALID_SPECS for form in provider.forms)
    expected = {"OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY"}
    assert expected | {"ANTHROPIC_API_KEY"} == set(OPERATOR_CREDENTIALS)


def test_the_kind_is_case_insensitive(script):
    assert isinstance(
        get_model("SCRIPTED:" + script("no_code.json")[len("scripted:") :]), ScriptedModel
    )


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("spec", ["", "nosuch", "openai", "openai:", "local:7b", "gpt-4o"])
def test_unknown_specs(spec):
    with pytest.raises(BadModelSpecError, match="local"):
        get_model(spec)


@pytest.mark.parametrize(
    ("spec", "variable"),
    [
        ("openai:gpt-4o", "OPENAI_API_KEY"),
        ("gemini:gemini-2.0-flash", "GEMINI_API_KEY"),
        ("anthropic:claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"),
    ],
)
def test_missing_keys_name_the_variable(spec, variable):
    with pytest.raises(MissingKeyError, match=variable):
        get_model(spec)
    assert issubclass(MissingKeyError, ModelError)


def test_scripted_models_are_new_each_call(script):
    a, b = get_model(script("no_code.json")), get_model(script("no_code.json"))
    assert isinstance(a, ScriptedModel) and a is not b
    assert a.spec.startswith("scripted:")


def test_scripted_bad_files(tmp_path):
    with pytest.raises(BadModelSpecError, match="not found"):
        get_model(f"scripted:{tmp_path / 'x.json'}")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BadModelSpecError):
        get_model(f"scripted:{bad}")
    bad.write_text('{"turns": 3}')
    with pytest.raises(BadModelSpecError, match="list of turns"):
        get_model(f"scripted:{bad}")


@pytest.mark.parametrize(
    ("spec", "env", "cls", "expected_spec"),
    [
        ("openai:gpt-4o-mini", {"OPENAI_API_KEY": "k"}, "OpenAIModel", "openai:gpt-4o-mini"),
        ("openai:qwen", {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "OpenAIModel", "openai:qwen"),
        (
            "gemini:gemini-2.5-flash",
            {"GOOGLE_API_KEY": "k"},
            "GeminiModel",
            "gemini:gemini-2.5-flash",
        ),
        ("anthropic:claude-x", {"ANTHROPIC_API_KEY": "k"}, "AnthropicModel", "anthropic:claude-x"),
        ("local", {}, "LocalModel", "local"),
        ("local:1.5b", {}, "LocalModel", "local"),
        ("local:0.5b", {}, "LocalModel", "local:0.5b"),
    ],
)
def test_backends_are_built_without_touching_the_network(
    spec, env, cls, expected_spec, monkeypatch
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    model = get_model(spec)
    assert type(model).__name__ == cls
    assert model.spec == expected_spec
    assert get_model(spec) is not model


@pytest.mark.parametrize(
    "spec, variable, module",
    [
        ("openai:gpt-4o-mini", "OPENAI_API_KEY", "openai"),
        ("gemini:gemini-2.5-flash", "GEMINI_API_KEY", "google.genai"),
        ("anthropic:claude-x", "ANTHROPIC_API_KEY", "anthropic"),
    ],
)
def test_a_backend_whose_sdk_is_missing_names_the_extra(monkeypatch, spec, variable, module):
    monkeypatch.setenv(variable, "k")
    monkeypatch.setitem(sys.modules, module, None)  # as if the package were not installed
    with pytest.raises(BadModelSpecError) as exc:
        get_model(spec)
    assert f"the {module} package is not installed" in str(exc.value)
    assert "pip install 'codexec[cloud]'" in str(exc.value)


@pytest.mark.parametrize("command, package", [("serve", "fastapi"), ("mcp", "mcp")])
def test_serve_and_mcp_without_their_extra_say_what_to_install(command, package):
    hide = f"import sys; sys.modules[{package!r}] = None; "
    run = "from agent.cli import main; sys.exit(main([" + repr(command) + "]))"
    done = subprocess.run(
        [sys.executable, "-c", hide + run], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert f"{command} needs the {package} package" in done.stderr
    assert "pip install 'codexec[serve]'" in done.stderr and "Traceback" not in done.stderr
