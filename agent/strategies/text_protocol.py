"""The text protocol: code as fenced ```python text, as the embedded model was tuned to write it.

The model sees worked examples as real chat turns (agent.prompts) and the files note at the
start of the question, so that the system prompt and the examples are the same in every solve
(a cached prefix for the local model). Where code is due (see `must_write_code`) and the backend
can continue a given answer start, the answer is started with a ```python fence: first in a
solve, so the model computes before it says anything, and after a run that failed or printed
nothing (small models otherwise often guess).

After a failed run the model first explains the error ("The error ..." starts its answer), then
writes the fix. Greedy decoding straight into code often repeated the code that just failed (4 of
7 failures on a 24-task equations dev set went to the retry limit that way), so an answer that
brings no new code is tried again as code, greedy and then sampled.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.models.base import ModelTurn
from agent.parts import Message, ResultPart, TextPart, last_run
from agent.prompts import CODE_EXECUTION_PROMPT, FILES_NOTE, system_prompt, worked_examples
from agent.strategies.base import Attempt, Prompt

CODE_START = "```python\n"
EXPLAIN_START = "The error"
RESAMPLE_TEMPERATURE = 0.7
RESAMPLES = 2


class TextProtocol:
    """`few_shot`: put the worked examples before the conversation (when code execution is on,
    and after the loop turned it off at the retry limit). `prefill`: start answers that must be
    code with a ```python fence, and retry as above (only for backends that take a prefill).
    A subclass may change the system prompt (`code_prompt`), show the worked examples' solutions
    in words (`plans`) and let the first answer start freely (`think_first`)."""

    code_prompt = CODE_EXECUTION_PROMPT
    plans = False
    think_first = False

    def __init__(self, *, few_shot: bool = True, prefill: bool = True) -> None:
        self.few_shot = few_shot
        self.prefill = prefill

    def prompt(
        self,
        history: list[Message],
        *,
        code_execution: bool,
        files: Sequence[str] = (),
        instruction: str = "",
    ) -> Prompt:
        shots = worked_examples(code_execution, history, self.plans) if self.few_shot else []
        if code_execution and files:  # in the question: the system prompt stays a shared prefix
            system = system_prompt(True, [], instruction, self.code_prompt)
            history = _with_note(history, FILES_NOTE + ", ".join(files) + "\n")
        else:
            system = system_prompt(code_execution, list(files), instruction, self.code_prompt)
        return Prompt(system, [*shots, *history], shared=len(shots))

    def first_attempt(self, history: list[Message], *, code_execution: bool) -> Attempt:
        if not (code_execution and self.prefill and must_write_code(history)):
            return Attempt()
        run = last_run(history)
        if run is None:  # the first answer of a solve
            return Attempt() if self.think_first else Attempt(prefill=CODE_START)
        if _failed(run[1]):
            return Attempt(prefill=EXPLAIN_START, stream=False)
        return Attempt(prefill=CODE_START, stream=False)

    def next_attempt(
        self, history: list[Message], tried: list[ModelTurn], *, code_execution: bool
    ) -> Attempt | None:
        if not (code_execution and self.prefill and must_write_code(history)):
            return None
        last, run = tried[-1], last_run(history)
        if run is None:  # the first answer of a solve: think first, then a plan without code
            if not self.think_first or len(tried) > 1 or last.code is not None:
                return None
            if last.finish_reason == "MAX_TOKENS":
                return None
            plan = last.text.split("Final answer", 1)[0].rstrip()
            return Attempt(prefill=(plan + "\n\n" if plan else "") + CODE_START, stream=False)
        if last.code is not None and last.code.strip() != run[0].code.strip():
            return None  # new code: it stands
        retries = [Attempt(prefill=CODE_START, stream=False)]
        retries += [
            Attempt(CODE_START, RESAMPLE_TEMPERATURE, seed, stream=False)
            for seed in range(RESAMPLES)
        ]
        done = len(tried) - (1 if _failed(run[1]) else 0)  # the explanation came first
        return retries[done] if done < len(retries) else None


def must_write_code(history: list[Message]) -> bool:
    """True when the next answer has to be code: nothing has run yet in this solve, or the last
    run failed or printed nothing. Without this the 1.5B answered with a guess or a derivation
    right after a traceback in 3 of its 7 misses on a 20-task equations sample.
    The loop's retry limit still applies: it turns code execution off after repeated failures."""
    if not any(m.role == "model" for m in history):
        return True
    run = last_run(history)
    return run is not None and (_failed(run[1]) or not run[1].output.strip())


def _failed(result: ResultPart) -> bool:
    return result.outcome != "OUTCOME_OK"


def _with_note(history: list[Message], note: str) -> list[Message]:
    """`note` put at the start of the first user message (a new list; `history` is untouched)."""
    for i, message in enumerate(history):
        if message.role == "user":
            first = Message(role="user", parts=[TextPart(text=note), *message.parts])
            return [*history[:i], first, *history[i + 1 :]]
    return history
