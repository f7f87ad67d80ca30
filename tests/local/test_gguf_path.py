"""`local:/path/to/model.gguf`: a GGUF file of the user's own, its chat template from the file."""

from __future__ import annotations

import pytest

from agent.models import get_model
from agent.models.base import BadModelSpecError, GenerateOptions
from agent.models.gguf_file import file_identity, is_path_spec
from agent.parts import Message


def test_path_specs_are_told_from_sizes() -> None:
    assert is_path_spec("/models/qwen-7b.gguf") and is_path_spec("~/m.gguf")
    assert is_path_spec("model.GGUF") and not is_path_spec("1.5b")


def test_files_that_are_not_gguf_are_refused_clearly(tmp_path) -> None:
    with pytest.raises(BadModelSpecError, match="no such file"):
        get_model(f"local:{tmp_path}/missing.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(BadModelSpecError, match="not a GGUF model file"):
        get_model(f"local:{text}")
    with pytest.raises(BadModelSpecError, match="local:/path/to/model.gguf"):
        get_model("local:7b")


def test_a_changed_file_gets_a_new_prefix_cache_key(tmp_path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 8)
    before = file_identity(path)
    path.write_bytes(b"GGUF" + b"\0" * 16)
    assert file_identity(path) != before


def test_a_truncated_gguf_is_an_error_not_a_crash(tmp_path) -> None:
    pytest.importorskip("llama_cpp")
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\x03\0\0\0" + b"\0" * 64)
    model = get_model(f"local:{path}")
    with pytest.raises(Exception, match="not a usable GGUF model"):
        model.generate("", [Message.user("hi")], code_execution=False, options=GenerateOptions())


@pytest.mark.slow  # loads the real 0.5B twice
def test_the_embedded_file_by_path_renders_and_answers_as_the_embedded_model() -> None:
    pytest.importorskip("llama_cpp")
    from agent.models.local import render_chatml
    from agent.weights import model_path

    try:
        path = model_path("0.5b", progress=False)
    except Exception as e:  # weights not installed
        pytest.skip(f"local model unavailable: {e}")
    by_path, embedded = get_model(f"local:{path}"), get_model("local:0.5b")
    history = [Message.user("What is 6 * 7?")]
    # the file's own template (from its metadata) gives the same prompt as our ChatML
    assert by_path.render("S", history) == render_chatml("S", history)
    options = GenerateOptions(max_output_tokens=24)
    answers = [
        m.generate("S", history, code_execution=False, options=options).text
        for m in (by_path, embedded)
    ]
    assert answers[0] == answers[1] and answers[0].strip()
