from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

import agent.files
from agent import Agent, Done, InputFile, TextDelta
from agent.files import check_name, load_input_file
from agent.models.base import ModelTurn
from agent.observe import MAX_OBSERVATION_CHARS, format_output, truncate


def fake_result(**kw):
    base = dict(stdout="", stderr="", error=None, figures=[], verdict="ok")
    base.update(kw)
    return SimpleNamespace(**base)


def test_truncate_keeps_head_and_tail():
    text = "HEAD" + "x" * 10_000 + "TAIL"
    out = truncate(text)
    assert out.startswith("HEAD") and out.endswith("TAIL")
    assert "characters truncated" in out
    assert len(out) < MAX_OBSERVATION_CHARS + 100
    assert truncate("short") == "short"


def test_output_has_stdout_stderr_and_the_error():
    error = SimpleNamespace(
        name="ZeroDivisionError",
        message="division by zero",
        traceback='Traceback (most recent call last):\n  File "<code>", line 2\nZeroDivisionError: division by zero',
    )
    out = format_output(
        fake_result(stdout="a\n", stderr="warn\n", error=error, verdict="runtime_error")
    )
    assert out.splitlines()[:2] == ["a", "warn"]
    assert out.rstrip().endswith("ZeroDivisionError: division by zero")
    assert out.count("ZeroDivisionError: division by zero") == 1


def test_error_without_traceback_and_timeout():
    error = SimpleNamespace(name="ImportError", message="module os.system blocked", traceback="")
    assert format_output(fake_result(error=error)) == "ImportError: module os.system blocked"
    out = format_output(fake_result(stdout="started\n", verdict="timeout"))
    assert out.startswith("started") and "timed out" in out


def test_figures_are_announced_with_running_numbers():
    figs = [SimpleNamespace(mime_type="image/png", data="")] * 2
    assert format_output(fake_result(figures=figs), first_figure=3) == (
        "[figure 3 shown]\n[figure 4 shown]"
    )
    assert format_output(fake_result(stdout="x\n", figures=figs[:1])) == "x\n[figure 1 shown]"


@pytest.mark.parametrize("name", ["", "..", "a/b.csv", "../x", "c\\d"])
def test_bad_names(name):
    with pytest.raises(ValueError):
        check_name(name)


def test_size_limit_and_directories(tmp_path, monkeypatch):
    monkeypatch.setattr(agent.files, "MAX_INPUT_FILE_BYTES", 10)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 11)
    with pytest.raises(ValueError, match="big.bin.*limit"):
        load_input_file(big)
    with pytest.raises(ValueError, match="limit"):
        load_input_file(InputFile(name="b.bin", data=b"x" * 11))
    with pytest.raises(ValueError, match="not a regular file"):
        load_input_file(tmp_path)
    small = tmp_path / "ok.txt"
    small.write_bytes(b"hello")
    assert load_input_file(str(small)) == InputFile(name="ok.txt", data=b"hello")


def test_text_files_are_shown_inline_without_code_execution(make_script, tmp_path):
    data = tmp_path / "notes.txt"
    data.write_text("the secret is 7")
    agent = Agent(make_script([{"text": "Final answer: 7"}]), code_execution=False)
    r = agent.run("What is the secret?", files=[data])
    seen = agent.model.calls[0]["history"][-1].text()
    assert "the secret is 7" in seen and "What is the secret?" in seen
    assert r.final_answer == "7"


class SlowStreamingModel:
    """Streams many small chunks; records when the loop made it stop."""

    spec = "slow"

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.sent = 0

    def generate(self, system, history, *, code_execution, options, on_text=None):
        try:
            for _ in range(10_000):
                on_text("word ")
                self.sent += 1
                threading.Event().wait(0.001)
        except Exception:
            self.stopped.set()
            raise
        return ModelTurn(text="never")


def test_closing_the_stream_stops_a_streaming_backend():
    model = SlowStreamingModel()
    stream = Agent(model).stream("q")
    assert isinstance(next(stream), TextDelta)
    stream.close()
    assert model.stopped.wait(10)
    assert model.sent < 10_000


def test_backend_without_streaming_still_yields_its_text():
    class Quiet:
        spec = "quiet"

        def generate(self, system, history, *, code_execution, options, on_text=None):
            return ModelTurn(text="Final answer: 1")

    events = list(Agent(Quiet()).stream("q"))
    assert [type(e).__name__ for e in events] == ["TextDelta", "PartDone", "Done"]
    assert events[0].text == "Final answer: 1"
    assert isinstance(events[-1], Done) and events[-1].result.final_answer == "1"
