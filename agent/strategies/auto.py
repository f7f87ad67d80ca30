"""Solve first, with or without the worked examples, as the question asks for.

A question in prose (a word problem, an equation, a date question) is solved zero-shot: the
model reasons in its own step-by-step style, which the worked examples' short solutions
displace. A question that carries data to process (a quoted text or word, several lines of data,
a list of items, an attached file) is solved with the worked examples, whose code shows how to
process it (str.count, re.findall, sorted with a key, pandas).

Measured with the 1.5B (results/dev/r7/): on GSM8K-train tasks 241-280 zero-shot answered 30 of
40 right, with the examples 19 and without code 25; on a fresh text-suite sample zero-shot
answered 16 of 26 right and with the examples 22 of 26. None of the 400 GSM8K-train questions
carries data in this sense; every text-suite question of the data-processing kinds does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.parts import Message, TextPart
from agent.strategies.base import Prompt
from agent.strategies.solve_first import SolveFirst
from agent.strategies.solve_first_zero_shot import SolveFirstZeroShot

_QUOTED = re.compile(r"\"[^\"\n]+\"|“[^”\n]+”")
_LIST = re.compile(r":\s*[^,\n]+(?:,[^,\n]+){3,}")  # "Sort these words: a, b, c, d"


def carries_data(question: str) -> bool:
    """True when the question holds data for code to process, not only prose."""
    text = question.strip()
    return "\n" in text or bool(_QUOTED.search(text)) or bool(_LIST.search(text))


class Auto(SolveFirst):
    """Solve first; zero-shot unless the solve's first question carries data or comes with files."""

    def __init__(self, *, few_shot: bool = True, prefill: bool = True) -> None:
        super().__init__(few_shot=few_shot, prefill=prefill)
        self.zero_shot = SolveFirstZeroShot(prefill=prefill)

    def prompt(
        self,
        history: list[Message],
        *,
        code_execution: bool,
        files: Sequence[str] = (),
        instruction: str = "",
    ) -> Prompt:
        question = next((m for m in history if m.role == "user"), None)
        words = (
            " ".join(p.text for p in question.parts if isinstance(p, TextPart)) if question else ""
        )
        if files or carries_data(words):
            return super().prompt(
                history, code_execution=code_execution, files=files, instruction=instruction
            )
        return self.zero_shot.prompt(
            history, code_execution=code_execution, instruction=instruction
        )
