"""Every branch of the loop, with the scripted backend and the sandbox."""

from __future__ import annotations

import base64
import csv
import random

import pytest

from agent import Agent, Done, InputFile, PartDone, SolveResult, TextDelta, get_model, solve
from agent.models.base import ModelError
from agent.parts import (
    CodePart,
    FunctionCallPart,
    ImagePart,
    Message,
    ResultPart,
    TextPart,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def kinds(result: SolveResult) -> list[str]:
    return [p.kind for p in result.parts]


def test_code_ok(script, sandboxes):
    r = solve("What is 6*7?", model=script("code_ok.json"))
    assert r.finish_reason == "STOP" and r.error is None
    assert kinds(r) == ["text", "code", "result", "text"]
    result = r.parts[2]
    assert isinstance(result, ResultPart)
    assert result.outcome == "OUTCOME_OK" and result.output.strip() == "42"
    assert r.final_answer == "42"
    assert r.steps == 2
    assert len(sandboxes) == 1


def test_model_sees_code_and_result_in_one_model_message(script):
    agent = Agent(script("code_ok.json"))
    agent.run("What is 6*7?")
    second = agent.model.calls[1]["history"]
    assert [m.role for m in second] == ["user", "model"]
    assert [p.kind for p in second[1].parts] == ["text", "code", "result"]
    assert agent.model.calls[0]["code_execution"] is True


def test_code_fails_then_fixed(script):
    r = solve("3 / 0?", model=script("fix_error.json"))
    results = [p for p in r.parts if isinstance(p, ResultPart)]
    assert [x.outcome for x in results] == ["OUTCOME_FAILED", "OUTCOME_OK"]
    assert "ZeroDivisionError" in results[0].output
    assert results[0].verdict == "runtime_error"
    assert results[1].output.strip() == "3.0"
    assert r.final_answer == "3"
    assert r.finish_reason == "STOP"


def test_five_consecutive_failures_force_an_answer(script):
    agent = Agent(script("five_failures.json"), max_retries=5, max_steps=10)
    r = agent.run("impossible")
    calls = agent.model.calls
    assert [c["code_execution"] for c in calls] == [True] * 5 + [False]
    assert sum(isinstance(p, ResultPart) for p in r.parts) == 5
    last_history = calls[5]["history"]
    assert last_history[-1].role == "user"
    assert "disabled" in last_history[-1].text()
    assert r.final_answer == "unknown"
    assert r.finish_reason == "STOP"
    assert r.steps == 6


def test_retries_are_configurable(make_script):
    turns = [{"code": f"raise RuntimeError({i})"} for i in range(4)] + [{"text": "Final answer: x"}]
    agent = Agent(make_script(turns), max_retries=2)
    r = agent.run("q")
    assert [c["code_execution"] for c in agent.model.calls] == [True, True, False]
    assert "RuntimeError(2)" in r.final_answer


def test_success_resets_the_failure_count(make_script):
    turns = [
        {"code": "raise RuntimeError(1)"},
        {"code": "print('ok')"},
        {"code": "raise RuntimeError(2)"},
        {"text": "Final answer: 1"},
    ]
    agent = Agent(make_script(turns), max_retries=2)
    agent.run("q")
    assert all(c["code_execution"] for c in agent.model.calls)


def test_identical_code_counts_as_failure(make_script):
    turns = [{"code": "print(1)"}] * 3 + [{"text": "Final answer: 1"}]
    agent = Agent(make_script(turns), max_retries=2)
    r = agent.run("q")
    assert [c["code_execution"] for c in agent.model.calls] == [True, True, True, False]
    assert r.final_answer == "1"


def test_code_while_code_execution_is_off_is_text(make_script, sandboxes):
    spec = make_script([{"text": "Let me see.", "code": "print(1/0)"}])
    r = solve("q", model=spec, code_execution=False)
    assert kinds(r) == ["text"]
    assert "print(1/0)" in r.parts[0].text
    assert sandboxes == []  # no sandbox without code execution


def test_no_code_at_all(script, sandboxes):
    agent = Agent(script("no_code.json"))
    r = agent.run("2+2?")
    assert sandboxes == []  # a session is opened on the first code only
    assert kinds(r) == ["text"]
    assert r.final_answer == "4"
    assert r.steps == 1 and r.finish_reason == "STOP"


def test_figures_become_png_parts_after_the_result(script):
    r = solve("plot", model=script("figure.json"))
    assert kinds(r) == ["text", "code", "result", "image", "text"]
    image = r.parts[3]
    assert isinstance(image, ImagePart) and image.mime_type == "image/png"
    assert base64.b64decode(image.data).startswith(PNG_MAGIC)
    assert "[figure 1 shown]" in r.parts[2].output
    wire = r.to_gemini()["candidates"][0]["content"]["parts"]
    assert wire[3]["inlineData"]["mimeType"] == "image/png"


def test_input_file_is_read_by_the_code(script, tmp_path):
    values = [random.randint(1, 1000) for _ in range(20)]
    data = tmp_path / "data.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["value"])
        writer.writerows([v] for v in values)
    agent = Agent(script("read_csv.json"), max_steps=1)
    r = agent.run("Sum the values in data.csv", files=[data])
    assert "data.csv" in agent.model.calls[0]["system"]
    assert r.finish_reason == "MAX_STEPS"
    assert r.final_answer == str(sum(values))  # the best answer so far: what the code printed


def test_input_file_from_bytes_and_from_message(script):
    agent = Agent(script("read_csv.json"), max_steps=1)
    r = agent.run("sum", files=[InputFile(name="data.csv", data=b"value\n5\n6\n")])
    assert r.final_answer == "11"
    agent = Agent(script("read_csv.json"), max_steps=1)
    attached = ImagePart(
        mime_type="text/csv", data=base64.b64encode(b"value\n1\n2\n").decode(), name="data.csv"
    )
    r = agent.run([Message(role="user", parts=[TextPart(text="sum"), attached])])
    assert r.final_answer == "3"


def test_bad_input_files_are_rejected_before_running(script, tmp_path, sandboxes):
    agent = Agent(script("no_code.json"))
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        agent.run("q", files=[tmp_path / "missing.csv"])
    with pytest.raises(FileNotFoundError):
        agent.stream("q", files=[tmp_path / "missing.csv"])
    with pytest.raises(ValueError, match="file name"):
        agent.run("q", files=[InputFile(name="../x", data=b"")])
    assert sandboxes == [] and agent.model.calls == []


def test_output_files_are_returned(script):
    r = solve("make squares", model=script("write_file.json"))
    assert [f.name for f in r.output_files] == ["squares.csv"]
    content = base64.b64decode(r.output_files[0].data_b64).decode()
    assert content.splitlines() == ["n,sq", "0,0", "1,1", "2,4", "3,9", "4,16"]
    assert r.output_files[0].size == len(content)


def test_token_sums(script):
    r = solve("What is 6*7?", model=script("code_ok.json"))
    assert r.usage.prompt_token_count == 10
    assert r.usage.tool_use_prompt_token_count == 20
    assert r.usage.candidates_token_count == 9
    assert r.usage.total_token_count == 39
    meta = r.to_gemini()["usageMetadata"]
    assert meta == {
        "promptTokenCount": 10,
        "candidatesTokenCount": 9,
        "toolUsePromptTokenCount": 20,
        "totalTokenCount": 39,
    }


def test_token_counts_without_reported_usage_grow_with_history(script):
    r = solve("state", model=script("state.json"))
    assert r.usage.prompt_token_count > 0
    assert r.usage.tool_use_prompt_token_count > 0
    assert r.usage.candidates_token_count > 0


def test_state_persists_between_code_blocks(script, sandboxes):
    r = solve("state", model=script("state.json"))
    outputs = [p.output.strip() for p in r.parts if isinstance(p, ResultPart)]
    assert outputs == ["stored", "42"]
    assert len(sandboxes) == 1


def test_max_steps(script):
    r = solve("loop", model=script("endless_code.json"), max_steps=3)
    assert r.finish_reason == "MAX_STEPS"
    assert r.steps == 3
    assert sum(isinstance(p, CodePart) for p in r.parts) == 3
    assert r.final_answer == "3"


def test_time_budget(make_script):
    spec = make_script([{"code": "print('slow')", "delay_s": 0.3}, {"text": "Final answer: 1"}])
    r = solve("q", model=spec, time_budget_s=0.2)
    assert r.finish_reason == "TIME_BUDGET"
    assert r.steps == 1
    assert r.final_answer == "slow"


def test_model_error_mid_run_keeps_parts(script, sandboxes):
    r = solve("q", model=script("model_error.json"))
    assert r.finish_reason == "ERROR"
    assert "HTTP 500" in (r.error or "")
    assert kinds(r) == ["text", "code", "result"]
    assert r.steps == 2
    candidate = r.to_gemini()["candidates"][0]
    assert candidate["finishReason"] == "OTHER" and "HTTP 500" in candidate["finishMessage"]
    assert len(sandboxes) == 1


def test_running_out_of_script_is_a_model_error(make_script):
    r = solve("q", model=make_script([{"code": "print(1)"}]))
    assert r.finish_reason == "ERROR" and "out of turns" in (r.error or "")


def test_function_calls_are_returned(script, sandboxes):
    r = solve("weather?", model=script("function_call.json"))
    assert kinds(r) == ["text", "function_call"]
    call = r.parts[1]
    assert isinstance(call, FunctionCallPart)
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    assert r.finish_reason == "STOP"
    assert r.to_gemini()["candidates"][0]["content"]["parts"][1] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}}
    }


def test_empty_output_is_retried_once(make_script):
    r = solve("q", model=make_script([{"text": ""}, {"text": "Final answer: 5"}]))
    assert r.finish_reason == "STOP" and r.final_answer == "5" and r.steps == 2
    r = solve("q", model=make_script([{"text": ""}, {"text": "  "}, {"text": "x"}]))
    assert r.finish_reason == "ERROR" and "empty" in (r.error or "")
    assert r.steps == 2


def test_stream_event_order(script):
    events = list(Agent(script("code_ok.json")).stream("What is 6*7?"))
    assert isinstance(events[-1], Done)
    compact = []
    for e in events:
        name = type(e).__name__ if not isinstance(e, PartDone) else f"PartDone:{e.part.kind}"
        if not compact or compact[-1] != name:
            compact.append(name)
    assert compact == [
        "TextDelta",
        "PartDone:text",
        "PartDone:code",
        "PartDone:result",
        "TextDelta",
        "PartDone:text",
        "Done",
    ]
    first_text = "".join(
        e.text for e in events[: compact.index("PartDone:text") + 5] if isinstance(e, TextDelta)
    )
    assert first_text.startswith("I will compute it.")
    assert events[-1].result.final_answer == "42"


def test_closing_the_stream_early_closes_the_sandbox(script, sandboxes):
    stream = Agent(script("state.json")).stream("q")
    for event in stream:
        if isinstance(event, PartDone) and event.part.kind == "result":
            break
    stream.close()
    assert len(sandboxes) == 1
    with pytest.raises(Exception):  # noqa: B017 - any misuse error of a closed sandbox
        sandboxes[0].run("print(1)")


def test_on_event_callback_and_question_placeholder(script):
    seen = []
    r = solve("how long is this?", model=script("echo_question.json"), on_event=seen.append)
    assert isinstance(seen[-1], Done) and seen[-1].result is r
    assert r.parts[1].output.strip() == str(len("how long is this?"))
    assert r.final_answer == "how long is this?"


def test_scripted_model_instances_replay_independently(script):
    a, b = get_model(script("no_code.json")), get_model(script("no_code.json"))
    assert solve("q", model=a).final_answer == "4"
    assert solve("q", model=b).final_answer == "4"
    with pytest.raises(ModelError):
        a.generate("s", [Message.user("q")], code_execution=True, options=Agent(a).options)


def test_code_timeout_is_a_failed_run_and_the_session_goes_on(make_script):
    from sandbox import Limits

    turns = [
        {"code": "x = 5\nwhile True:\n    pass"},
        {"code": "print('alive')"},
        {"text": "Final answer: alive"},
    ]
    r = solve("q", model=make_script(turns), sandbox_limits=Limits(timeout_s=1))
    results = [p for p in r.parts if isinstance(p, ResultPart)]
    assert results[0].outcome == "OUTCOME_DEADLINE_EXCEEDED"
    assert results[0].verdict == "timeout"
    assert "time" in results[0].output.lower()
    assert results[1].outcome == "OUTCOME_OK" and results[1].output.strip() == "alive"


def test_blocked_import_is_shown_without_sandbox_internals(make_script):
    r = solve("q", model=make_script([{"code": "import subprocess"}, {"text": "Final answer: no"}]))
    result = r.parts[1]
    assert isinstance(result, ResultPart) and result.verdict == "import_blocked"
    assert result.output.startswith("ImportError:") and "subprocess" in result.output
    assert "sandbox/" not in result.output


def test_long_output_is_truncated_for_the_model(make_script):
    code = "print('FIRST')\nfor i in range(5000):\n    print('line', i)\nprint('LAST')"
    agent = Agent(make_script([{"code": code}, {"text": "Final answer: ok"}]))
    r = agent.run("q")
    output = r.parts[1].output
    assert output.startswith("FIRST") and output.rstrip().endswith("LAST")
    assert "characters truncated" in output and len(output) < 4200


def test_output_files_survive_a_model_error(make_script):
    turns = [{"code": "open('partial.txt', 'w').write('half')"}, {"error": "connection reset"}]
    r = solve("q", model=make_script(turns))
    assert r.finish_reason == "ERROR"
    assert [f.name for f in r.output_files] == ["partial.txt"]
    assert base64.b64decode(r.output_files[0].data_b64) == b"half"


def test_zero_retries_disables_code_after_the_first_failure(make_script):
    turns = [{"code": "print(1)"}, {"code": "1/0"}, {"text": "Final answer: 1"}]
    agent = Agent(make_script(turns), max_retries=0)
    agent.run("q")
    assert [c["code_execution"] for c in agent.model.calls] == [True, True, False]


def test_a_failing_event_handler_still_closes_the_sandbox(script, sandboxes):
    def handler(event):
        if isinstance(event, PartDone) and event.part.kind == "result":
            raise KeyError("handler bug")

    with pytest.raises(KeyError):
        solve("q", model=script("state.json"), on_event=handler)
    assert len(sandboxes) == 1
    with pytest.raises(Exception):  # noqa: B017 - the session is closed
        sandboxes[0].run("print(1)")


def test_model_timeout_shrinks_with_the_budget_in_coarse_steps(make_script):
    from agent.models.base import GenerateOptions

    agent = Agent(
        make_script([{"text": "Final answer: 1"}]),
        time_budget_s=25.0,
        options=GenerateOptions(timeout_s=120.0),
    )
    agent.run("q")
    assert agent.model.calls[0]["options"].timeout_s == 30.0
    agent = Agent(make_script([{"text": "Final answer: 1"}]), time_budget_s=300.0)
    agent.run("q")
    assert agent.model.calls[0]["options"].timeout_s == agent.options.timeout_s


def test_blank_code_is_no_code(make_script, sandboxes):
    r = solve("q", model=make_script([{"text": "Final answer: 2", "code": "  \n"}]))
    assert kinds(r) == ["text"] and r.final_answer == "2"
    assert sandboxes == []


def test_a_hanging_backend_ends_at_the_time_budget(monkeypatch):
    import threading

    import agent.loop
    from agent.models.base import ModelTurn

    monkeypatch.setattr(agent.loop, "GENERATE_GRACE_S", 0.2)
    release = threading.Event()

    class Hanging:
        spec = "hanging"

        def generate(self, system, history, *, code_execution, options, on_text=None):
            release.wait(60)
            return ModelTurn(text="too late")

    try:
        r = solve("q", model=Hanging(), time_budget_s=0.3)
    finally:
        release.set()
    assert r.finish_reason == "TIME_BUDGET"
    assert r.steps == 1 and r.parts == []


def test_an_answer_the_output_does_not_show_is_questioned_once(make_script, sandboxes):
    turns = [
        {"text": "About 30 words.", "code": "print(len('a b c d e f g'.split()) * 7)"},
        {"text": "Final answer: 30"},
        {"text": "The code counted them: Final answer: 49"},
    ]
    agent = Agent(make_script(turns), recheck=0)
    r = agent.run("How many words?")
    assert r.final_answer == "49" and r.steps == 3
    asked = agent.model.calls[2]["history"][-1]
    assert asked.role == "user" and "Your answer 30 is not what the code printed" in asked.text()
    assert "49" in asked.text()


def test_the_answer_is_questioned_only_once_and_then_stands(make_script, sandboxes):
    turns = [
        {"code": "print(49)"},
        {"text": "Final answer: 30"},
        {"text": "Final answer: 30"},
        {"code": "print(50)"},
    ]
    agent = Agent(make_script(turns), recheck=0)
    r = agent.run("How many words?")
    assert r.final_answer == "30" and r.steps == 3  # the model kept its answer: it stands


@pytest.mark.parametrize(
    "output, answer",
    [
        ("3000.0 3\n", "3"),
        ("104.996\n", "105"),
        ("-20\n", "20"),
        ("[figure 1 shown]\n", "5"),
        ("True\n", "yes"),
        ("623,650,303.53\n", "623,650,303.53"),
    ],
)
def test_answers_the_output_shows_are_not_questioned(make_script, sandboxes, output, answer):
    code = f"print({output.strip()!r})"
    agent = Agent(make_script([{"code": code}, {"text": f"Final answer: {answer}"}]), recheck=0)
    r = agent.run("q")
    assert r.final_answer == answer and r.steps == 2
