"""Solve first, then compute: the text protocol, but the model first works the problem out in
words (what is asked, what each number means, how they combine), then writes code that does the
same steps, and the answer comes from the code's output.

Code first, a small model writes code before it has understood a word problem: on 60 GSM8K-train
problems the embedded 1.5B answered 38 right with code first, 43 with this strategy and 45 in
words without code (docs/prompt_tuning.md); it is the local models' default. The worked examples show their solutions in words
before their code; an answer that stops after the words, without code, is continued from them
with a ```python fence.
"""

from __future__ import annotations

from agent.prompts import SOLVE_FIRST_PROMPT
from agent.strategies.text_protocol import TextProtocol


class SolveFirst(TextProtocol):
    code_prompt = SOLVE_FIRST_PROMPT
    plans = True
    think_first = True
