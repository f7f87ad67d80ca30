"""When the local backend forces the next answer to start with a ```python fence."""

from __future__ import annotations

from agent.models.local import must_write_code
from agent.parts import CodePart, ImagePart, Message, ResultPart, TextPart


def _ran(outcome: str, output: str, *extra) -> Message:
    return Message(
        role="model",
        parts=[CodePart(code="print(1)"), ResultPart(outcome=outcome, output=output), *extra],
    )


def test_first_answer_of_a_solve_is_code() -> None:
    assert must_write_code([Message.user("2+2?")])


def test_after_a_failed_run_the_model_must_fix_the_code() -> None:
    history = [Message.user("q"), _ran("OUTCOME_FAILED", "Traceback ...\nTypeError: x\n")]
    assert must_write_code(history)
    timeout = [Message.user("q"), _ran("OUTCOME_DEADLINE_EXCEEDED", "")]
    assert must_write_code(timeout)


def test_after_a_run_that_printed_nothing_the_model_must_print() -> None:
    assert must_write_code([Message.user("q"), _ran("OUTCOME_OK", "  \n")])


def test_after_a_good_run_the_model_may_answer() -> None:
    assert not must_write_code([Message.user("q"), _ran("OUTCOME_OK", "42\n")])
    figure = ImagePart(mime_type="image/png", data="iVBORw==")
    assert not must_write_code([Message.user("q"), _ran("OUTCOME_OK", "[figure 1 shown]", figure)])


def test_a_new_user_turn_after_an_answer_is_free() -> None:
    answered = Message(role="model", parts=[TextPart(text="Final answer: 4")])
    assert not must_write_code([Message.user("q"), answered, Message.user("and 3+3?")])


class _FakeLlama:
    """Just enough of llama_cpp.Llama. `answers` maps how the prompt ends ("```python\n" or
    "The error") and whether decoding is greedy to the text generated."""

    def __init__(self, answers: dict[tuple[str, bool], str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, float, int | None]] = []
        self.n_tokens = 0
        self._input_ids: list[int] = []
        self._last_text = ""
        self.prompts: list[str] = []

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        self._last_text = data.decode()
        if "<|im_start|>" in self._last_text:
            self.prompts.append(self._last_text)
        return list(range(len(data.split())))

    def create_completion(self, tokens, *, temperature: float, seed: int | None, **_):
        start = "The error" if self._last_text.endswith("The error") else "```python\n"
        self.calls.append((start, temperature, seed))
        yield {"choices": [{"text": self.answers[start, temperature == 0], "finish_reason": None}]}


def _generate_after(
    monkeypatch, fake: _FakeLlama, outcome: str = "OUTCOME_FAILED", output: str = "TypeError: x\n"
):
    from agent.models import local
    from agent.models.base import GenerateOptions

    monkeypatch.setattr(local, "_load", lambda size: local._Loaded(fake))
    ran = Message(
        role="model",
        parts=[
            CodePart(code="print(solution[x])"),
            ResultPart(outcome=outcome, output=output),
        ],
    )
    model = local.LocalModel("1.5b", few_shot=False)
    history = [Message.user("q"), ran]
    return model.generate("sys", history, code_execution=True, options=GenerateOptions())


SAME = "print(solution[x])\n```\n"
FIXED = "print(solution[0][x])\n```\n"
CODE, EXPLAIN = "```python\n", "The error"


def test_after_a_failure_the_model_explains_the_error_then_fixes_it(monkeypatch) -> None:
    fake = _FakeLlama({(EXPLAIN, True): " is a list.\n```python\n" + FIXED})
    turn = _generate_after(monkeypatch, fake)
    assert turn.code == "print(solution[0][x])"
    assert turn.text.startswith("The error is a list.")
    assert fake.calls == [(EXPLAIN, 0.0, None)]


def test_the_same_failed_code_again_is_retried_as_code_then_sampled(monkeypatch) -> None:
    explained_same = " x.\n```python\n" + SAME
    fake = _FakeLlama({(EXPLAIN, True): explained_same, (CODE, True): SAME, (CODE, False): FIXED})
    turn = _generate_after(monkeypatch, fake)
    assert turn.code == "print(solution[0][x])"
    assert fake.calls == [(EXPLAIN, 0.0, None), (CODE, 0.0, None), (CODE, 0.7, 0)]
    assert turn.usage.output_tokens > len(FIXED.split())  # every generation is billed


def test_it_gives_up_after_two_samples(monkeypatch) -> None:
    fake = _FakeLlama(
        {(EXPLAIN, True): " x.\n```python\n" + SAME, (CODE, True): SAME, (CODE, False): SAME}
    )
    turn = _generate_after(monkeypatch, fake)
    assert turn.code == "print(solution[x])"  # the loop's retry limit takes it from here
    assert [seed for _, _, seed in fake.calls] == [None, None, 0, 1]


def test_an_explanation_without_code_is_not_an_answer(monkeypatch) -> None:
    fake = _FakeLlama({(EXPLAIN, True): " is odd. Final answer: 3", (CODE, True): FIXED})
    turn = _generate_after(monkeypatch, fake)
    assert turn.code == "print(solution[0][x])" and fake.calls[-1] == (CODE, 0.0, None)


def test_after_a_silent_run_there_is_no_error_to_explain(monkeypatch) -> None:
    fake = _FakeLlama({(CODE, True): SAME, (CODE, False): FIXED})
    turn = _generate_after(monkeypatch, fake, outcome="OUTCOME_OK", output="")
    assert turn.code == "print(solution[0][x])"
    assert [start for start, _, _ in fake.calls] == [CODE, CODE]


def test_files_line_moves_into_the_question_so_the_examples_stay_cached(monkeypatch) -> None:
    from agent.models import local
    from agent.models.base import GenerateOptions
    from agent.prompts import system_prompt

    fake = _FakeLlama({(CODE, True): "print(1)\n```\n"})
    monkeypatch.setattr(local, "_load", lambda size: local._Loaded(fake))
    model = local.LocalModel("1.5b")
    question = [Message.user("Sum the amounts in sales.csv.")]
    for files in ([], ["sales.csv"]):
        model.generate(
            system_prompt(True, files), question, code_execution=True, options=GenerateOptions()
        )
    plain, with_files = fake.prompts
    shared = plain[: plain.rindex("<|im_start|>user")]  # system prompt + every worked example
    assert with_files.startswith(shared)
    rest = with_files[len(shared) :]
    assert rest.startswith(
        "<|im_start|>user\nFiles in the current directory (read them with code): sales.csv\n"
        "Sum the amounts in sales.csv.<|im_end|>"
    )
    assert question[0].parts[0].text == "Sum the amounts in sales.csv."  # caller's copy untouched


def test_the_last_answer_after_the_retry_limit_keeps_the_worked_examples(monkeypatch) -> None:
    """The loop turns code execution off after repeated failures; the examples stay in the
    prompt so the conversation is unchanged and llama.cpp keeps their cached prefix."""
    from agent.models import local
    from agent.models.base import GenerateOptions

    fake = _FakeLlama({(CODE, True): "print(1)\n```\n"})
    monkeypatch.setattr(local, "_load", lambda size: local._Loaded(fake))
    model = local.LocalModel("1.5b")
    question = [Message.user("q")]
    model.generate("sys", question, code_execution=True, options=GenerateOptions())
    failed = [*question, _ran("OUTCOME_FAILED", "TypeError: x\n")]
    model.generate("sys", failed, code_execution=False, options=GenerateOptions())
    model.generate("sys", question, code_execution=False, options=GenerateOptions())
    with_code, limit_reached, plain = fake.prompts
    shared = with_code[: with_code.rindex("<|im_start|>user")]
    assert shared.count("<|im_start|>user") >= 2  # the examples are there
    assert limit_reached.startswith(shared)
    assert not plain.startswith(shared)  # a solve without code execution never sees them
