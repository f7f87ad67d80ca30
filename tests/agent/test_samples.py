"""Self-consistency and cut-off recovery in the loop, against a function model and the sandbox."""

from __future__ import annotations

import pytest

from agent import Agent
from agent.degenerate import is_degenerate, trim_loop
from agent.models.base import GenerateOptions, ModelTurn
from agent.parts import Message, ResultPart, TextPart
from agent.usage import CallUsage
from agent.vote import Ballot, answer_key, rounds, settled, tally


class FunctionModel:
    """Answers by a function of (history, options): a test model in pydantic-ai's style."""

    spec = "function"

    def __init__(self, fn):
        self.fn = fn
        self.calls: list[GenerateOptions] = []

    def generate(self, system, history, *, code_execution, options, on_text=None):
        self.calls.append(options)
        return self.fn(history, options)


def program_then_answer(code_for_seed):
    """First turn: code chosen by the options' seed (None = greedy); then answer its output."""

    def fn(history: list[Message], options: GenerateOptions) -> ModelTurn:
        last = history[-1]
        results = [p for p in last.parts if isinstance(p, ResultPart)]
        if last.role == "model" and results:
            out = results[-1].output.strip().splitlines()
            return ModelTurn(text=f"Final answer: {out[-1] if out else 'none'}")
        code = code_for_seed(options.seed if options.temperature > 0 else None)
        return ModelTurn(code=code, usage=CallUsage(prompt_tokens=10, output_tokens=5))

    return fn


def test_majority_of_executed_answers_wins(sandboxes):
    codes = {None: "print(6 * 6)", 1: "print(6 * 7)", 2: "print(42)", 3: "print(7 * 6)"}
    model = FunctionModel(program_then_answer(codes.__getitem__))
    r = Agent(model, samples=4).run("What is 6 times 7?")
    assert r.final_answer == "42"
    assert r.samples == ["36", "42", "42", "42"] and r.votes == 3
    assert r.finish_reason == "STOP" and r.error is None
    assert [p.kind for p in r.parts] == ["code", "result", "text"]
    assert r.parts[0].code == "print(6 * 7)"  # the first of the winners' transcript
    assert r.steps == 8 and len(sandboxes) == 4  # each sample runs in its own session
    assert r.to_gemini()["samples"] == {"answers": ["36", "42", "42", "42"], "votes": 3}
    sampled = [o for o in model.calls if o.temperature > 0]
    assert {o.seed for o in sampled} == {1, 2, 3} and model.calls[0].temperature == 0


def test_samples_that_agree_at_once_stop_after_two_solves(sandboxes):
    model = FunctionModel(program_then_answer(lambda seed: "print(6 * 7)"))
    r = Agent(model, samples=8).run("What is 6 times 7?")
    assert r.final_answer == "42" and r.samples == ["42", "42"] and r.votes == 2
    assert r.steps == 4 and len(sandboxes) == 2


def test_samples_go_on_in_rounds_until_the_answers_settle(sandboxes):
    codes = {None: "print(1)", 1: "print(2)", 2: "print(3)", 3: "print(2)"}
    codes |= {i: "print(2)" for i in range(4, 8)}
    model = FunctionModel(program_then_answer(codes.__getitem__))
    r = Agent(model, samples=8).run("?")
    # 1, 2 disagree; 3, 2 leave 2 ahead by one; four more give 2 six votes of eight
    assert r.samples == ["1", "2", "3", "2", "2", "2", "2", "2"] and r.final_answer == "2"
    assert r.votes == 6
    sampled = [o.seed for o in model.calls if o.temperature > 0]
    assert sorted(sampled) == list(range(1, 8))  # every sample its own seed


def test_rounds_double_up_to_k():
    assert list(rounds(1)) == [(0, 1)]
    assert list(rounds(4)) == [(0, 2), (2, 2)]
    assert list(rounds(8)) == [(0, 2), (2, 2), (4, 4)]
    assert list(rounds(5)) == [(0, 2), (2, 2), (4, 1)]


def test_answers_settle_on_agreement_or_a_lead_that_cannot_be_caught():
    b = [Ballot(a) for a in ("7", "7.0")]
    assert settled(b, left=6)  # two of two
    assert not settled([Ballot("7"), Ballot("8")], left=2)
    assert not settled([Ballot("7"), Ballot("x", valid=False)], left=2)  # one voter
    assert settled([Ballot(a) for a in ("7", "7", "7", "8")], left=4)  # three in four
    assert not settled([Ballot(a) for a in ("7", "7", "8", "9")], left=4)
    assert settled([Ballot(a) for a in ("7", "7", "8", "9")], left=0)
    assert settled([Ballot(a) for a in ("7", "7", "7", "8", "9")], left=1)
    assert not settled([Ballot(a) for a in ("7", "7", "7", "8", "9", "9")], left=1)


def test_failed_samples_do_not_vote_and_ties_go_to_the_greedy_one():
    codes = {None: "print(5)", 1: "1/0", 2: "print(9)"}
    model = FunctionModel(program_then_answer(codes.__getitem__))
    r = Agent(model, samples=3, max_retries=1).run("?")
    assert r.samples[0] == "5" and r.samples[2] == "9"
    assert r.final_answer == "5" and r.votes == 1


def test_one_sample_is_the_plain_solve():
    model = FunctionModel(program_then_answer(lambda seed: "print(3)"))
    r = Agent(model).run("?")
    assert r.final_answer == "3" and r.samples == [] and "samples" not in r.to_gemini()
    assert all(o.temperature == 0 for o in model.calls)


@pytest.mark.parametrize("bad", [0, -2])
def test_samples_must_be_positive(bad):
    with pytest.raises(ValueError, match="samples"):
        Agent(FunctionModel(lambda h, o: ModelTurn(text="x")), samples=bad)


def test_a_looping_answer_is_retried_not_returned():
    loop = "The answer is\n" + "0\n" * 300

    def fn(history, options):
        if history[-1].role == "user" and "cut off" in history[-1].parts[0].text:
            return ModelTurn(text="Final answer: 12")
        return ModelTurn(text=loop, finish_reason="MAX_TOKENS")

    r = Agent(FunctionModel(fn)).run("How many eggs?")
    assert r.final_answer == "12" and r.finish_reason == "STOP"
    first = r.parts[0]
    assert isinstance(first, TextPart) and first.text.count("0\n") <= 1  # the loop trimmed


def test_an_answer_that_stays_cut_off_is_an_error_not_an_answer():
    r = Agent(FunctionModel(lambda h, o: ModelTurn(text="0\n" * 500, finish_reason="MAX_TOKENS")))
    result = r.run("?")
    assert result.finish_reason == "MAX_TOKENS"
    assert result.final_answer == "" and "cut off" in (result.error or "")
    assert result.steps == 3  # the first answer and two asks again


def test_answer_keys_compare_meaning():
    assert answer_key("1,200") == answer_key("$1200.00") == answer_key("1200 dollars")
    assert answer_key("x = 5") == answer_key("5")
    assert answer_key("-5") != answer_key("5")
    assert answer_key("3, 4") != answer_key("3") and answer_key("2*x + 1") == "2*x + 1"
    assert answer_key("Blue") == answer_key(" blue ")


def test_tally_counts_valid_ballots_only():
    t = tally([Ballot("7", valid=False), Ballot("8"), Ballot("7"), Ballot("8.0"), Ballot("")])
    assert (t.winner, t.votes, t.voters) == (1, 2, 3)
    assert tally([Ballot("", valid=True)]).winner is None


def test_degenerate_text():
    assert is_degenerate("Total:\n" + "0\n" * 20)
    assert is_degenerate("x" + "ab" * 200)
    assert not is_degenerate("print(1)\nprint(2)\n")
    assert not is_degenerate("\n" * 300)  # blank lines are not a loop of content
    assert trim_loop("Total:\n" + "0\n" * 20) == "Total:\n0"


MOVIE = (
    "A movie costs $2000 to make. Each DVD costs $6 and sells for $15. He sells 500 DVDs. "
    "What is his profit?"
)
GOOD = "print(500 * (15 - 6) - 2000)"  # 2500
FORGOT = "print(500 * (15 - 6))"  # 4500: the $2000 is never used


def test_code_that_leaves_a_number_unused_is_rechecked_by_a_vote(sandboxes):
    codes = {None: FORGOT, 1: GOOD, 2: FORGOT, 3: GOOD, 4: "print(500 * 15 - 2000)"}
    model = FunctionModel(program_then_answer(codes.__getitem__))
    r = Agent(model).run(MOVIE)
    assert r.samples == ["4500", "2500", "4500", "2500", "5500"]
    # the solves whose code used every number vote: 2500 twice against 5500 once
    assert r.final_answer == "2500" and r.votes == 2
    kinds = [p.kind for p in r.parts]
    assert kinds == ["code", "result", "text", "text", "code", "result", "text"]
    assert r.parts[3].text.startswith("[recheck: the code left 2000 of the question unused")
    assert r.parts[4].code == GOOD and r.steps == 10
    assert len(model.calls) == 10  # no greedy first answer drawn again for the samples


def test_code_that_uses_every_number_is_not_rechecked(sandboxes):
    model = FunctionModel(program_then_answer(lambda seed: GOOD))
    r = Agent(model).run(MOVIE)
    assert r.final_answer == "2500" and r.samples == [] and r.steps == 2
    assert len(model.calls) == 2


def test_recheck_zero_keeps_the_greedy_answer(sandboxes):
    model = FunctionModel(program_then_answer(lambda seed: FORGOT if seed is None else GOOD))
    r = Agent(model, recheck=0).run(MOVIE)
    assert r.final_answer == "4500" and r.steps == 2


def test_when_no_sample_uses_every_number_all_of_them_vote(sandboxes):
    codes = {None: FORGOT, 1: "print(9 * 500)", 2: "print(1)"}
    model = FunctionModel(program_then_answer(codes.__getitem__))
    r = Agent(model, recheck=2).run(MOVIE)
    assert r.samples == ["4500", "4500", "1"] and r.final_answer == "4500" and r.votes == 2
    assert [p.kind for p in r.parts] == ["code", "result", "text", "text"]  # greedy won


def code_or_words(code_for_seed, words_for_seed):
    """With code execution: `program_then_answer`; without: a worded answer chosen by seed."""
    coded = program_then_answer(code_for_seed)

    class Model(FunctionModel):
        def generate(self, system, history, *, code_execution, options, on_text=None):
            self.calls.append(options)
            if code_execution:
                return coded(history, options)
            seed = options.seed if options.temperature > 0 else None
            return ModelTurn(text=f"Reasoning.\nFinal answer: {words_for_seed(seed)}")

    return Model(None)


def test_crosscheck_agreeing_answers_cost_one_more_call(sandboxes):
    model = code_or_words(lambda seed: GOOD, lambda seed: "$2,500")
    r = Agent(model, crosscheck=True).run(MOVIE)
    assert r.final_answer == "2500" and r.samples == ["2500", "$2,500"]
    assert len(model.calls) == 3 and r.steps == 2  # code, its answer; the worded answer


def test_crosscheck_disagreement_samples_both_ways_and_votes(sandboxes):
    wrong = "print(500 * 15 - 6 - 2000)"  # uses every number, so only the cross-check catches it
    codes = {None: wrong, 1: GOOD, 2: wrong, 3: GOOD, 4: "print(2500)"}
    words = {None: "2500", 1: "2500", 2: "4500", 3: "2500", 4: "2500"}
    words_out = ["2500", "4500", "2500", "2500"]
    model = code_or_words(codes.__getitem__, words.__getitem__)
    r = Agent(model, crosscheck=True).run(MOVIE)
    # greedy with code, greedy without, four samples with code, four without
    assert r.samples == ["5494", "2500", "2500", "5494", "2500", "2500"] + words_out
    # print(2500) uses no number of the question, so the clean solves vote without it
    assert r.final_answer == "2500" and r.votes == 6
    note = next(p.text for p in r.parts if p.kind == "text" and p.text.startswith("[recheck"))
    assert "the answer without code was 2500" in note


def test_crosscheck_is_off_by_default_and_falls_back_when_code_gave_no_answer(sandboxes):
    model = code_or_words(lambda seed: GOOD, lambda seed: "1")
    assert Agent(model).run(MOVIE).final_answer == "2500" and len(model.calls) == 2
    broken = code_or_words(lambda seed: "1/0", lambda seed: "7")
    r = Agent(broken, crosscheck=True, max_steps=1).run(MOVIE)
    # the solve with code gave no answer: the one without code answers, with a note saying so
    assert r.finish_reason == "STOP" and r.final_answer == "7" and r.samples == ["", "7"]
    assert [p.kind for p in r.parts] == ["code", "result", "text", "text"] and r.steps == 2
    assert "gave no answer (MAX_STEPS)" in r.parts[2].text


def test_crosscheck_counts_only_stated_answers_without_code(sandboxes):
    wrong = "print(500 * 15 - 6 - 2000)"
    codes = {None: wrong, 1: wrong, 2: GOOD, 3: GOOD, 4: GOOD}
    model = code_or_words(codes.__getitem__, lambda seed: "2500")

    def words(system, history, *, code_execution, options, on_text=None):
        if code_execution or options.temperature == 0:
            return type(model).generate(
                model, system, history, code_execution=code_execution, options=options
            )
        return ModelTurn(text="Let's compute it with Python.")  # no stated answer: no vote

    model.generate = words
    r = Agent(model, crosscheck=True).run(MOVIE)
    assert r.final_answer == "2500" and r.votes == 4  # three code solves and the greedy words


def test_recheck_samples_are_capped_and_cut_off_ones_skipped(sandboxes):
    def fn(history, options):
        if options.temperature > 0 and options.seed == 1:  # rambles on to the cap
            return ModelTurn(text="Let me think " * 50, finish_reason="MAX_TOKENS")
        return program_then_answer(lambda seed: FORGOT if seed is None else GOOD)(history, options)

    model = FunctionModel(fn)
    r = Agent(model).run(MOVIE)
    assert r.samples == ["4500", "2500", "2500", "2500"] and r.final_answer == "2500"
    sampled = [o for o in model.calls if o.temperature > 0]
    assert sampled and all(o.max_output_tokens == 512 for o in sampled)
