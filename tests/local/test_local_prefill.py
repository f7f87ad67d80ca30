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
    """Just enough of llama_cpp.Llama: greedy decoding repeats `greedy`, sampling writes `sampled`."""

    def __init__(self, greedy: str, sampled: str) -> None:
        self.greedy, self.sampled = greedy, sampled
        self.calls: list[tuple[float, int | None]] = []
        self.n_tokens = 0
        self._input_ids: list[int] = []

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(range(len(data.split())))

    def create_completion(self, tokens, *, temperature: float, seed: int | None, **_):
        self.calls.append((temperature, seed))
        text = self.greedy if temperature == 0 else self.sampled
        yield {"choices": [{"text": text, "finish_reason": None}]}


def _generate_after_failure(monkeypatch, fake: _FakeLlama):
    from agent.models import local
    from agent.models.base import GenerateOptions

    monkeypatch.setattr(local, "_load", lambda size: local._Loaded(fake))
    failed = Message(
        role="model",
        parts=[
            CodePart(code="print(solution[x])"),
            ResultPart(outcome="OUTCOME_FAILED", output="TypeError: list indices\n"),
        ],
    )
    model = local.LocalModel("1.5b", few_shot=False)
    history = [Message.user("q"), failed]
    return model.generate("sys", history, code_execution=True, options=GenerateOptions())


def test_a_retry_that_repeats_the_failed_code_is_sampled_again(monkeypatch) -> None:
    fake = _FakeLlama("print(solution[x])\n```\n", "print(solution[0][x])\n```\n")
    turn = _generate_after_failure(monkeypatch, fake)
    assert turn.code == "print(solution[0][x])"
    assert fake.calls == [(0.0, None), (0.7, 0)]
    assert turn.usage.output_tokens == 4  # both generations are billed


def test_resampling_gives_up_after_two_tries(monkeypatch) -> None:
    fake = _FakeLlama("print(solution[x])\n```\n", "print(solution[x])\n```\n")
    turn = _generate_after_failure(monkeypatch, fake)
    assert turn.code == "print(solution[x])"  # the loop's retry limit takes it from here
    assert [seed for _, seed in fake.calls] == [None, 0, 1]


def test_a_new_fix_from_greedy_decoding_is_kept(monkeypatch) -> None:
    fake = _FakeLlama("print(solution[0][x])\n```\n", "unused\n```\n")
    turn = _generate_after_failure(monkeypatch, fake)
    assert turn.code == "print(solution[0][x])" and len(fake.calls) == 1
