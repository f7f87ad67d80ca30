"""Run by test_local_batching.py in a fresh process (a model is loaded for batching or not):
`python batching_probe.py together|alone` prints JSON about four first answers."""

from __future__ import annotations

import json
import sys
import threading
import time

from agent.models import cancel
from agent.models.base import GenerateOptions
from agent.models.local import LocalModel
from agent.models.local_runtime import _models
from agent.parts import CodePart, Message, ResultPart
from agent.strategies import TextProtocol

QUESTIONS = [
    "What is 17 * 23?",
    "How many letters are in the word banana?",
    "What is the sum of the integers from 1 to 100?",
    "Convert 3 hours to minutes.",
]
LONG = "Write a long essay on the history of the number zero. Do not write any code."


def first_answer(
    model: LocalModel, history: list[Message], code: bool = True, max_tokens: int = 80
):
    strategy = TextProtocol()
    prompt = strategy.prompt(history, code_execution=code)
    attempt = strategy.first_attempt(history, code_execution=code)
    options = GenerateOptions(
        prefill=attempt.prefill, shared_prefix=prompt.shared, max_output_tokens=max_tokens
    )
    return model.generate(prompt.system, prompt.history, code_execution=code, options=options)


def main() -> None:
    mode = sys.argv[1]
    model = LocalModel("0.5b")
    first_answer(model, [Message.user("Hi")], max_tokens=1)  # the prefix, loaded once
    report: dict = {}
    if mode == "alone":
        turns = [first_answer(model, [Message.user(q)]) for q in QUESTIONS]
    else:
        turns = [None] * len(QUESTIONS)

        def run(i: int) -> None:
            turns[i] = first_answer(model, [Message.user(QUESTIONS[i])])

        # a long answer that is cancelled while the others decode beside it
        stop = threading.Event()
        cut: dict = {}

        def long_answer() -> None:
            with cancel.scope(stop):
                try:
                    first_answer(model, [Message.user(LONG)], code=False, max_tokens=400)
                except Exception as exc:  # Cancelled
                    cut["error"] = type(exc).__name__

        threads = [threading.Thread(target=long_answer)]
        threads += [threading.Thread(target=run, args=(i,)) for i in range(len(QUESTIONS))]
        for t in threads:
            t.start()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join(300)
        scheduler = _models["0.5b"].scheduler
        report["long"] = cut.get("error")
        report["max_rows"] = scheduler.max_rows
        # the scheduler frees a cancelled request's slot at its next step, not at once
        deadline = time.monotonic() + 10
        while any(slot.request for slot in scheduler.slots) and time.monotonic() < deadline:
            time.sleep(0.05)
        report["busy_after"] = sum(slot.request is not None for slot in scheduler.slots)
        # a second turn of a conversation: its first turn is still in a slot's cache. (Not a
        # first turn of the race above: a waiting request may have taken over its slot.)
        first = first_answer(model, [Message.user(QUESTIONS[0])])
        ran = Message(
            role="model",
            parts=[CodePart(code=first.code), ResultPart(outcome="OUTCOME_OK", output="391\n")],
        )
        first_answer(model, [Message.user(QUESTIONS[0]), ran])
        report["reused"] = model.last_stats.reused_tokens
        report["prompt"] = model.last_stats.prompt_tokens
        alone = first_answer(model, [Message.user(QUESTIONS[0])], max_tokens=1)
        report["question"] = alone.usage.prompt_tokens  # prefix + question + answer start
    report["codes"] = [t.code for t in turns]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
