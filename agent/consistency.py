"""Self-consistency strategies around `Agent._solve`: sample several solves, answer by vote.

`solve_sampled` (Agent(samples=K)): at most K solves in rounds (2, then 4, then 8...) that stop
when the answers agree, the first greedy, each round's first answers decoded as one batch where
the backend can; the majority of the finished solves' answers wins.

`solve_checked` (the default, Agent(recheck=N)): one greedy solve, streamed as usual; only when
its code left a number of the question unused (`agent.verify`), N more solves are sampled and the
vote decides, preferring solves whose code used every number. Most questions cost one solve; the
suspicious ones, where a small model's code most often computed the wrong thing, get a vote.

With Agent(crosscheck=True) the model also answers once without code (a second opinion that
reasons in words); when the two answers differ, N more solves with code and N without are
sampled, and all of them vote.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Generator
from typing import TYPE_CHECKING

from agent.answer import find_final_answer
from agent.events import Done, Event, PartDone, TextDelta
from agent.files import InputFile
from agent.models.base import ModelError, ModelTurn
from agent.parts import CodePart, Message, Part, TextPart
from agent.result import SolveResult
from agent.usage import Usage
from agent.verify import unused_numbers
from agent.vote import Ballot, answer_key, rounds, settled, tally

if TYPE_CHECKING:
    from agent.loop import Agent

log = logging.getLogger("codexec.agent")

FALLBACK_NOTE = "[the solve with code gave no answer ({why}); answered without code]"
SAMPLED_MAX_STEPS = 3
# A sample's first answer past this many tokens is cut off: in one batch, a sample that rambles
# on would keep every step of the batch going (at 1024 tokens, minutes on 2 cores).
SAMPLED_MAX_TOKENS = 512
RECHECK_NOTE = (
    "[recheck: {why}, so {n} more solutions were sampled; answers {answers}; "
    "{votes} of {voters} agree]"
)


def solve_sampled(
    agent: Agent, history: list[Message], inputs: list[InputFile], stream_text: bool
) -> Generator[Event, None, None]:
    """At most K solves, one answer: the majority of the answers that came out of a finished
    solve. They are drawn in rounds (2, then 4 in all, then 8...) that stop once the answers
    have settled (`agent.vote.settled`), so a question the samples agree on costs two."""
    from agent.model_call import OutOfTime

    start = time.monotonic()
    deadline = start + agent.time_budget_s
    results: list[SolveResult] = []
    for drawn, size in rounds(agent.samples):
        try:
            firsts = first_turns(
                agent, history, inputs, size, deadline, greedy=drawn == 0, first_seed=drawn
            )
        except (ModelError, OutOfTime) as exc:
            if drawn == 0:
                yield Done(_failed(exc, time.monotonic() - start))
                return
            log.warning("samples: round after %d solves failed (%s)", drawn, exc)
            break
        results += _chains(agent, history, inputs, firsts, start)
        left = agent.samples - drawn - size
        if settled([_ballot(r) for r in results], left) or time.monotonic() >= deadline:
            break
    if not results:
        why = "every sampled answer was cut off at the token limit"
        yield Done(SolveResult(finish_reason="MAX_TOKENS", error=why))
        return
    count = tally([_ballot(r) for r in results])
    won = results[count.winner if count.winner is not None else 0]
    yield from _emit(won.parts, stream_text)
    yield Done(
        won.model_copy(
            update={
                "steps": sum(r.steps for r in results),
                "duration_s": time.monotonic() - start,
                "usage": Usage.of_samples([r.usage for r in results]),
                "samples": [r.final_answer for r in results],
                "votes": count.votes,
            }
        )
    )


def _failed(exc: Exception, duration: float) -> SolveResult:
    """The result of a sampled solve whose first answers could not be made."""
    from agent.model_call import OutOfTime

    if isinstance(exc, OutOfTime):
        return SolveResult(finish_reason="TIME_BUDGET", duration_s=duration)
    return SolveResult(finish_reason="ERROR", error=str(exc), duration_s=duration)


def solve_checked(
    agent: Agent, history: list[Message], inputs: list[InputFile], stream_text: bool
) -> Generator[Event, None, None]:
    """The greedy solve; a vote among `agent.recheck` more samples when its code looks wrong:
    it left a number of the question unused, or (with `agent.crosscheck`) the model's answer
    without code differs from it."""
    start = time.monotonic()
    deadline = start + agent.time_budget_s
    question = _question(history)
    greedy: SolveResult | None = None
    for event in agent._solve(list(history), inputs, stream_text):
        if isinstance(event, Done):
            greedy = event.result
        else:
            yield event
    assert greedy is not None
    missing = unused_numbers(question, ran_code(greedy)) if _answered(greedy) else []
    plain = None
    if agent.crosscheck and not inputs and time.monotonic() < deadline:
        plain = _plain_solve(agent, history, deadline)
    stated = plain is not None and _worded_ballot(plain).valid
    if plain is not None and stated and not _answered(greedy):
        yield from _fall_back(greedy, plain, stream_text, start)
        return
    disagree = (
        plain is not None
        and stated
        and _answered(greedy)
        and answer_key(plain.final_answer) != answer_key(greedy.final_answer)
    )
    heads = [greedy] if plain is None else [greedy, plain]
    if not (missing or disagree) or time.monotonic() >= deadline:
        samples = answers_of(heads) if plain is not None else []
        spent = time.monotonic() - start
        yield Done(greedy.model_copy(update={"samples": samples, "duration_s": spent}))
        return
    from agent.model_call import OutOfTime

    sampler = _sampler(agent)
    try:
        firsts = first_turns(
            sampler, history, inputs, agent.recheck, deadline, greedy=False, first_seed=1
        )
    except (ModelError, OutOfTime) as exc:  # the greedy answer stands
        log.warning("recheck: no samples (%s)", type(exc).__name__)
        spent = time.monotonic() - start
        yield Done(greedy.model_copy(update={"samples": answers_of(heads), "duration_s": spent}))
        return
    coded = _chains(sampler, history, inputs, firsts, start)
    worded = _plain_samples(sampler, history, start) if plain is not None else []
    results = [*heads, *coded, *worded]
    coding = [True] + [False] * (len(heads) - 1) + [True] * len(coded) + [False] * len(worded)
    pairs = list(zip(results, coding, strict=True))
    # prefer the solves whose code used every number (answers in words are not checked)
    clean = [not c or not unused_numbers(question, ran_code(r)) for r, c in pairs]
    ballots = [_ballot(r) if c else _worded_ballot(r) for r, c in pairs]
    if any(c and b.valid for c, b in zip(clean, ballots, strict=True)):
        ballots = [Ballot(b.answer, b.valid and c) for c, b in zip(clean, ballots, strict=True)]
    count = tally(ballots)
    won = results[count.winner if count.winner is not None else 0]
    answers = answers_of(results)
    why = []
    if missing:
        why.append(f"the code left {', '.join(missing)} of the question unused")
    if disagree and plain is not None:
        why.append(f"the answer without code was {plain.final_answer}")
    note = TextPart(
        text=RECHECK_NOTE.format(
            why=" and ".join(why),
            n=len(coded) + len(worded),
            answers=answers,
            votes=count.votes,
            voters=count.voters,
        )
    )
    extra = [note] + (list(won.parts) if won is not greedy else [])
    yield from _emit(extra, stream_text)
    yield Done(
        won.model_copy(
            update={
                "parts": [*greedy.parts, *extra],
                "steps": sum(r.steps for r in results),
                "duration_s": time.monotonic() - start,
                "usage": Usage.of_samples([r.usage for r in results]),
                "samples": answers,
                "votes": count.votes,
                "finish_reason": won.finish_reason,
            }
        )
    )


def _sampler(agent: Agent) -> Agent:
    """The agent that draws a recheck's samples: a sample that needs many steps to fix its own
    errors is rarely the right one, so each gets at most SAMPLED_MAX_STEPS model calls."""
    sampler = copy.copy(agent)
    sampler.max_steps = min(agent.max_steps, SAMPLED_MAX_STEPS)
    limit = min(agent.options.max_output_tokens, SAMPLED_MAX_TOKENS)
    sampler.options = agent.options.model_copy(update={"max_output_tokens": limit})
    return sampler


def _fall_back(
    greedy: SolveResult, plain: SolveResult, stream_text: bool, start: float
) -> Generator[Event, None, None]:
    """The solve with code gave no answer; the one without code did: answer with it."""
    note = TextPart(text=FALLBACK_NOTE.format(why=greedy.error or greedy.finish_reason))
    yield from _emit([note, *plain.parts], stream_text)
    yield Done(
        plain.model_copy(
            update={
                "parts": [*greedy.parts, note, *plain.parts],
                "steps": greedy.steps + plain.steps,
                "duration_s": time.monotonic() - start,
                "usage": Usage.of_samples([greedy.usage, plain.usage]),
                "samples": [greedy.final_answer, plain.final_answer],
            }
        )
    )


def _emit(parts: list[Part], stream_text: bool) -> Generator[Event, None, None]:
    """The events of parts that were made without streaming (a sample that won, a note)."""
    for part in parts:
        if stream_text and isinstance(part, TextPart):
            yield TextDelta(part.text)
        yield PartDone(part)


def _without_code(agent: Agent) -> Agent:
    """The same model and limits, answering in words (the cross-check's second opinion)."""
    twin = copy.copy(agent)
    twin.code_execution, twin.samples, twin.recheck, twin.crosscheck = False, 1, 0, False
    return twin


def _plain_solve(agent: Agent, history: list[Message], deadline: float) -> SolveResult:
    """The greedy answer without code."""
    budget = max(deadline - time.monotonic(), 1.0)
    chain = _without_code(agent)._solve(list(history), [], False, budget_s=budget)
    return next(e.result for e in chain if isinstance(e, Done))


def _plain_samples(agent: Agent, history: list[Message], start: float) -> list[SolveResult]:
    """`agent.recheck` sampled answers without code, decoded as one batch where possible."""
    from agent.model_call import OutOfTime

    twin = _without_code(agent)
    try:
        deadline = start + agent.time_budget_s
        firsts = first_turns(twin, history, [], agent.recheck, deadline, greedy=False, first_seed=1)
    except (ModelError, OutOfTime):
        return []
    return _chains(twin, history, [], firsts, start)


def first_turns(
    agent: Agent,
    history: list[Message],
    inputs: list[InputFile],
    n: int,
    deadline: float = math.inf,
    greedy: bool = True,
    first_seed: int = 0,
) -> list[ModelTurn]:
    """`n` first answers (the first greedy unless not `greedy`, answer i sampled with seed
    `first_seed` + i): one batch where the backend offers it, else n calls. They are made in a
    worker thread that is cancelled at `deadline` (monotonic; `agent.model_call.OutOfTime`
    then) or on Ctrl-C."""
    from agent.execute import prewarm_sandbox
    from agent.model_call import call_model

    if agent.code_execution:
        prewarm_sandbox()
    prompt = agent._prompt(history, inputs, agent.code_execution)
    first = agent.strategy.first_attempt(history, code_execution=agent.code_execution)
    options = agent.call_options(first, prompt, agent.options)
    system, shown = prompt.system, prompt.history
    batch = getattr(agent.model, "generate_many", None)

    def generate() -> list[ModelTurn]:
        if batch is not None:
            turns: list[ModelTurn] = batch(
                system,
                shown,
                n=n,
                code_execution=agent.code_execution,
                options=options.model_copy(update={"seed": first_seed}),
                temperature=agent.sample_temperature,
                greedy_first=greedy,
            )
            return turns
        turns = []
        for i in range(n):
            sampled = {"temperature": agent.sample_temperature, "seed": first_seed + i}
            update = {} if i == 0 and greedy else sampled
            turns.append(
                agent.model.generate(
                    system,
                    shown,
                    code_execution=agent.code_execution,
                    options=options.model_copy(update=update),
                )
            )
        return turns

    return call_model(generate, deadline)


def _chains(
    agent: Agent,
    history: list[Message],
    inputs: list[InputFile],
    firsts: list[ModelTurn],
    start: float,
) -> list[SolveResult]:
    """One solve continued from each first turn, within what is left of the time budget."""
    results: list[SolveResult] = []
    for turn in firsts:
        if turn.finish_reason == "MAX_TOKENS" and not turn.code:
            continue  # cut off: it would need more calls to give an answer at all
        budget = agent.time_budget_s - (time.monotonic() - start)
        if budget <= 0 and results:
            break
        chain = agent._solve(list(history), inputs, False, first=turn, budget_s=max(budget, 1.0))
        results.extend(e.result for e in chain if isinstance(e, Done))
    return results


def answers_of(results: list[SolveResult]) -> list[str]:
    return [r.final_answer for r in results]


def ran_code(result: SolveResult) -> list[str]:
    """The code of every run of `result`: a failed run still defined what ran before the error,
    and variables persist between runs."""
    return [p.code for p in result.parts if isinstance(p, CodePart)]


def _answered(result: SolveResult) -> bool:
    return result.finish_reason == "STOP" and not result.error and bool(result.final_answer)


def _ballot(result: SolveResult) -> Ballot:
    return Ballot(result.final_answer, result.finish_reason == "STOP" and not result.error)


def _worded_ballot(result: SolveResult) -> Ballot:
    """An answer without code votes only when stated as one ("Final answer: ..."): a sampled
    reply that stops at "Let's compute this with Python" has no answer to count."""
    texts = [p.text for p in result.parts if isinstance(p, TextPart)]
    stated = bool(texts) and find_final_answer(texts[-1]) is not None
    return Ballot(result.final_answer, _answered(result) and stated)


def _question(history: list[Message]) -> str:
    for message in reversed(history):
        if message.role == "user":
            return "\n".join(p.text for p in message.parts if isinstance(p, TextPart))
    return ""
