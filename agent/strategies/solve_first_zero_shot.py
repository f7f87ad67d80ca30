"""Solve first without worked examples: the solve-first prompt alone, so the model reasons in the
step-by-step style it was trained to write, then writes code that does the same steps.

The worked examples teach the code's form (sympy, solve_ivp, pow with a modulus), but their short
solutions in words are what a small model copies: with them the 1.5B wrote one-line plans
("Asked: ... 8 / 0.2 = 40") whose code then computed something else, and on GSM8K-train tasks
201-240 solve first answered 23 of 40 right against 33 in words (results/dev/r7/).
"""

from __future__ import annotations

from agent.prompts import SOLVE_FIRST_ZERO_SHOT_PROMPT
from agent.strategies.solve_first import SolveFirst


class SolveFirstZeroShot(SolveFirst):
    """`few_shot` is taken as every text strategy takes it (`named_strategy`), and ignored."""

    code_prompt = SOLVE_FIRST_ZERO_SHOT_PROMPT

    def __init__(self, *, few_shot: bool = True, prefill: bool = True) -> None:
        super().__init__(few_shot=False, prefill=prefill)
