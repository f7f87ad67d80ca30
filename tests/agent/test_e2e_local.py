"""End to end with the embedded local model (real llama.cpp, real sandbox)."""

from __future__ import annotations

import re

import pytest

from agent import solve
from agent.parts import CodePart, ResultPart

pytestmark = pytest.mark.slow


def ran_code(result) -> bool:
    codes = [p for p in result.parts if isinstance(p, CodePart)]
    oks = [p for p in result.parts if isinstance(p, ResultPart) and p.outcome == "OUTCOME_OK"]
    return bool(codes) and bool(oks)


def test_strawberry():
    r = solve("How many times does the letter r occur in strawberry?", model="local")
    assert r.error is None, r.error
    assert ran_code(r)
    assert re.fullmatch(r"\D*3\D*", r.final_answer), r.final_answer


def test_cubic_roots():
    r = solve("Solve x**3 - 6*x**2 + 11*x - 6 = 0", model="local")
    assert r.error is None, r.error
    assert ran_code(r)
    assert {int(float(n)) for n in re.findall(r"-?\d+(?:\.0+)?", r.final_answer)} == {1, 2, 3}, (
        r.final_answer
    )
    usage = r.usage
    assert usage.prompt_token_count > 0 and usage.candidates_token_count > 0
    assert r.steps >= 2
