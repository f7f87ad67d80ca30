"""The text-protocol strategy: where code is due, how answers start, and the retries after a
failed run, which the loop makes as model calls of their own."""

from __future__ import annotations

from agent import Agent
from agent.models.base import GenerateOptions, ModelTurn
from agent.models.local import _to_turn
from agent.parts import CodePart, ImagePart, Message, ResultPart, TextPart
from agent.prompts import (
    CODE_EXECUTION_PROMPT,
    EXAMPLES,
    SOLVE_FIRST_PROMPT,
    SOLVE_FIRST_ZERO_SHOT_PROMPT,
    system_prompt,
)
from agent.strategies import (
    STRATEGIES,
    Attempt,
    Auto,
    NativeTools,
    SolveFirst,
    SolveFirstZeroShot,
    TextProtocol,
    must_write_code,
    named_strategy,
    strategy_for,
)
from agent.usage import CallUsage

CODE, EXPLAIN = "```python\n", "The error"


def _ran(outcome: str, output: str, *extra, code: str = "print(1)") -> Message:
    return Message(
        role="model",
        parts=[CodePart(code=code), ResultPart(outcome=outcome, output=output), *extra],
    )


def test_first_answer_of_a_solve_is_code() -> None:
    assert must_write_code([Message.user("2+2?")])
    assert TextProtocol().first_attempt([Message.user("q")], code_execution=True) == Attempt(
        prefill=CODE
    )


def test_after_a_failed_run_the_model_must_fix_the_code() -> None:
    history = [Message.user("q"), _ran("OUTCOME_FAILED", "Traceback ...\nTypeError: x\n")]
    assert must_write_code(history)
    timeout = [Message.user("q"), _ran("OUTCOME_DEADLINE_EXCEEDED", "")]
    assert must_write_code(timeout)


def test_after_a_run_that_printed_nothing_the_model_must_print() -> None:
    assert must_write_code([Message.user("q"), _ran("OUTCOME_OK", "  \n")])


def test_after_a_good_run_the_model_may_answer() -> None:
    good = [Message.user("q"), _ran("OUTCOME_OK", "42\n")]
    assert not must_write_code(good)
    assert TextProtocol().first_attempt(good, code_execution=True) == Attempt()
    figure = ImagePart(mime_type="image/png", data="iVBORw==")
    assert not must_write_code([Message.user("q"), _ran("OUTCOME_OK", "[figure 1 shown]", figure)])


def test_a_new_user_turn_after_an_answer_is_free() -> None:
    answered = Message(role="model", parts=[TextPart(text="Final answer: 4")])
    assert not must_write_code([Message.user("q"), answered, Message.user("and 3+3?")])


def test_no_prefill_without_code_execution_or_when_switched_off() -> None:
    question = [Message.user("q")]
    assert TextProtocol().first_attempt(question, code_execution=False) == Attempt()
    assert TextProtocol(prefill=False).first_attempt(question, code_execution=True) == Attempt()


def _turn(code: str | None) -> ModelTurn:
    return ModelTurn(text="", code=code, finish_reason="CODE" if code else "STOP")


def test_the_retries_after_a_failure_explain_then_code_then_sample() -> None:
    history = [Message.user("q"), _ran("OUTCOME_FAILED", "TypeError\n", code="print(x)")]
    strategy, same = TextProtocol(), _turn("print(x)")
    assert strategy.first_attempt(history, code_execution=True) == Attempt(EXPLAIN, stream=False)
    seen = [strategy.next_attempt(history, [same] * n, code_execution=True) for n in (1, 2, 3, 4)]
    assert seen == [
        Attempt(CODE, stream=False),
        Attempt(CODE, 0.7, 0, stream=False),
        Attempt(CODE, 0.7, 1, stream=False),
        None,  # the loop's retry limit takes it from here
    ]
    assert strategy.next_attempt(history, [_turn("print(2)")], code_execution=True) is None
    no_code = ModelTurn(text="The error is odd. Final answer: 3")
    assert strategy.next_attempt(history, [no_code], code_execution=True) == Attempt(
        CODE, stream=False
    )


def test_after_a_silent_run_there_is_no_error_to_explain() -> None:
    history = [Message.user("q"), _ran("OUTCOME_OK", "", code="x = 1")]
    strategy = TextProtocol()
    assert strategy.first_attempt(history, code_execution=True) == Attempt(CODE, stream=False)
    again = strategy.next_attempt(history, [_turn("x = 1")], code_execution=True)
    assert again == Attempt(CODE, 0.7, 0, stream=False)


def test_solve_first_continues_a_plan_without_code_with_a_fence() -> None:
    question, strategy = [Message.user("q")], SolveFirst()
    assert strategy.first_attempt(question, code_execution=True) == Attempt()
    plan = ModelTurn(text="Add them.\nFinal answer: 5")
    assert strategy.next_attempt(question, [plan], code_execution=True) == Attempt(
        "Add them.\n\n" + CODE, stream=False
    )
    assert strategy.next_attempt(question, [_turn("print(5)")], code_execution=True) is None


def test_files_line_moves_into_the_question_so_the_examples_stay_shared() -> None:
    question = [Message.user("Sum the amounts in sales.csv.")]
    plain = TextProtocol().prompt(question, code_execution=True, instruction="Be brief.")
    with_files = TextProtocol().prompt(
        question, code_execution=True, files=["sales.csv"], instruction="Be brief."
    )
    assert plain.system == with_files.system == system_prompt(True, [], "Be brief.")
    assert plain.shared == with_files.shared == 2 * len(EXAMPLES)
    assert with_files.history[: with_files.shared] == plain.history[: plain.shared]
    asked = with_files.history[-1]
    assert asked.text() == (
        "Files in the current directory (read them with code): sales.csv\n"
        "Sum the amounts in sales.csv."
    )
    assert question[0].parts[0].text == "Sum the amounts in sales.csv."  # caller's copy untouched
    native = NativeTools().prompt(question, code_execution=True, files=["sales.csv"])
    assert "sales.csv" in native.system and native.history == question and native.shared == 0


def test_the_last_answer_after_the_retry_limit_keeps_the_worked_examples() -> None:
    """The loop turns code execution off after repeated failures; the examples stay in the
    prompt so the conversation is unchanged and llama.cpp keeps their cached prefix."""
    failed = [Message.user("q"), _ran("OUTCOME_FAILED", "TypeError: x\n")]
    assert TextProtocol().prompt(failed, code_execution=False).shared == 2 * len(EXAMPLES)
    assert TextProtocol().prompt(failed[:1], code_execution=False).shared == 0


class _PrefillModel:
    """Continues the answer start it is given: `answers[(prefill, greedy)]` is the rest."""

    spec = "test:prefill"
    supports_prefill = True

    def __init__(self, answers: dict[tuple[str, bool], str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, float, int | None]] = []

    def default_strategy(self) -> TextProtocol:
        return TextProtocol(few_shot=False)

    def generate(self, system, history, *, code_execution, options: GenerateOptions, on_text=None):
        self.calls.append((options.prefill, options.temperature, options.seed))
        text = options.prefill + self.answers[options.prefill, options.temperature == 0]
        return _to_turn(
            text,
            "STOP",
            False,
            code_execution,
            CallUsage(prompt_tokens=10, output_tokens=len(text.split())),
        )


def test_the_loop_makes_each_retry_a_counted_model_call() -> None:
    model = _PrefillModel(
        {
            (CODE, True): "print(undefined_name)\n```\n",
            (EXPLAIN, True): " is a NameError.\n```python\nprint(undefined_name)\n```\n",
            (CODE, False): "print(6 * 7)\n```\n",
            ("", True): "Final answer: 42",
        }
    )
    shown: list[str] = []
    agent = Agent(model, recheck=0)
    result = agent.run(
        "What is 6 times 7?", on_event=lambda e: shown.append(getattr(e, "text", ""))
    )
    assert result.final_answer == "42"
    assert model.calls == [
        (CODE, 0.0, None),  # the first answer
        (EXPLAIN, 0.0, None),  # after the NameError: the same code again
        (CODE, 0.0, None),  # the same again
        (CODE, 0.7, 0),  # sampled: new code
        ("", 0.0, None),  # after a good run: the answer
    ]
    assert result.steps == 3
    assert "NameError" not in "".join(shown)  # retries that were thrown away are not shown
    assert result.usage.candidates_token_count == sum(
        len((p + model.answers[p, t == 0]).split()) for p, t, _ in model.calls
    )


def test_a_prefill_the_backend_cannot_take_is_a_clear_error(script) -> None:
    agent = Agent(script("no_code.json"), strategy=TextProtocol(), recheck=0)
    result = agent.run("q")
    assert result.finish_reason == "ERROR" and "cannot continue a given answer start" in (
        result.error or ""
    )


def test_each_backend_asks_for_its_strategy() -> None:
    from agent.models.local import LocalModel
    from agent.models.openai_backend import OpenAIModel

    assert isinstance(strategy_for(LocalModel("0.5b")), Auto)
    fenced = strategy_for(OpenAIModel("m", base_url="http://127.0.0.1:1/v1"))
    assert isinstance(fenced, TextProtocol) and not fenced.prefill
    tools = OpenAIModel("m", base_url="http://127.0.0.1:1/v1", tools=True)
    assert isinstance(strategy_for(tools), NativeTools)


def test_solve_first_prompts_for_words_then_code_and_shows_the_examples_solutions() -> None:
    question = [Message.user("How many wheels do 3 bikes have?")]
    plain, first = (
        TextProtocol().prompt(question, code_execution=True),
        SolveFirst().prompt(question, code_execution=True),
    )
    assert plain.system.startswith(CODE_EXECUTION_PROMPT[:40])
    assert first.system == SOLVE_FIRST_PROMPT and "in words, step by step" in first.system
    assert first.shared == plain.shared == 2 * len(EXAMPLES)
    planned = [ex for ex in EXAMPLES if ex.plan]
    assert planned, "some worked examples carry a solution in words"
    opening = {m.parts[0].text.strip() for m in first.history[: first.shared] if m.role == "model"}
    assert {ex.plan for ex in planned} <= opening
    assert not any(
        isinstance(m.parts[0], TextPart) for m in plain.history[: plain.shared] if m.role == "model"
    )
    # without code execution both answer in words, with the same prompt
    assert SolveFirst().prompt(question, code_execution=False).system == plain_words(question)


def test_solve_first_zero_shot_is_solve_first_without_the_worked_examples() -> None:
    question = [Message.user("How many wheels do 3 bikes have?")]
    zero = named_strategy("solve-first-zero-shot", LocalLike())
    assert isinstance(zero, SolveFirstZeroShot) and zero.prefill and not zero.few_shot
    prompt = zero.prompt(question, code_execution=True)
    assert prompt.system == SOLVE_FIRST_ZERO_SHOT_PROMPT
    assert prompt.system.startswith(SOLVE_FIRST_PROMPT.split("Then write")[0])
    assert prompt.history == question and prompt.shared == 0
    # it thinks first as solve first does, and a plan without code is continued as code
    assert zero.first_attempt(question, code_execution=True) == Attempt()
    plan = ModelTurn(text="3 bikes, 2 wheels each.\nFinal answer: 6")
    assert zero.next_attempt(question, [plan], code_execution=True) == Attempt(
        "3 bikes, 2 wheels each.\n\n" + CODE, stream=False
    )
    files = zero.prompt(question, code_execution=True, files=["bikes.csv"])
    assert files.history[0].text().startswith("Files in the current directory")
    assert zero.prompt(question, code_execution=False).system == plain_words(question)


def test_auto_solves_prose_zero_shot_and_data_with_the_worked_examples() -> None:
    auto = Auto()
    examples = 2 * len(EXAMPLES)
    prose = [Message.user("A bakery sells 12 loaves a day. How many in 3 weeks?")]
    assert auto.prompt(prose, code_execution=True) == SolveFirstZeroShot().prompt(
        prose, code_execution=True
    )
    for data in [
        'How many times does the letter "s" occur in the word "successes"?',
        "Sort these words by length: cobalt, yellow, rabbit, travel, desert.",
        "What is the sum of all the integers in this text?\nBought 12 eggs (#41).",
    ]:
        asked = [Message.user(data)]
        prompt = auto.prompt(asked, code_execution=True)
        assert prompt.system == SOLVE_FIRST_PROMPT and prompt.shared == examples, data
    with_file = auto.prompt(prose, code_execution=True, files=["sales.csv"])
    assert with_file.shared == examples
    # the solve keeps its prompt: later turns and the loop's own notes do not move it
    later = [*prose, _ran("OUTCOME_OK", "252\n"), Message.user('Now say "done".')]
    assert auto.prompt(later, code_execution=True).shared == 0
    assert auto.first_attempt(prose, code_execution=True) == Attempt()  # it thinks first


class LocalLike:
    supports_prefill = True
    few_shot = True


def plain_words(question: list[Message]) -> str:
    return TextProtocol().prompt(question, code_execution=False).system


def test_named_strategies_follow_what_the_model_can_take() -> None:
    class NoPrefill:
        supports_prefill = False
        few_shot = False

    assert set(STRATEGIES) == {"auto", "code-first", "solve-first", "solve-first-zero-shot"}
    chosen = named_strategy("solve-first", NoPrefill())
    assert isinstance(chosen, SolveFirst) and not chosen.prefill and not chosen.few_shot
    assert named_strategy("code-first", object()).prefill is False
    try:
        named_strategy("guess", object())
    except ValueError as exc:
        assert "auto, code-first, solve-first" in str(exc)
    else:
        raise AssertionError("an unknown strategy is refused")


def test_agent_takes_a_strategy_by_name_and_the_model_sees_its_prompt() -> None:
    seen: list[str] = []

    class Words:
        spec = "function:words"

        def generate(self, system, history, *, code_execution, options, on_text=None):
            seen.append(system)
            return ModelTurn(text="Two and two make four.\nFinal answer: 4")

    agent = Agent(Words(), strategy="solve-first", recheck=0)
    assert isinstance(agent.strategy, SolveFirst)
    assert agent.run("What is 2 + 2?").final_answer == "4"
    assert seen and seen[0] == SOLVE_FIRST_PROMPT
