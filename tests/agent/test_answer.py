from __future__ import annotations

import pytest

from agent.answer import answer_from_parts, extract_final_answer, find_final_answer
from agent.parts import CodePart, ResultPart, TextPart


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final answer: 3", "3"),
        ("The count is three.\nFinal answer: 3.", "3"),
        ("**Final Answer:** 3.", "3"),
        ("**Final answer**: 3", "3"),
        ("## Final Answer\n\n42", "42"),
        ("final answer = 7", "7"),
        ("So the final answer is 12.", "12"),
        ("Final answer: 1, 2, 3", "1, 2, 3"),
        ("Final answer: x = 1, x = 2, x = 3.", "x = 1, x = 2, x = 3"),
        ("We get $x=2$.\nFinal answer: $x=2$", "x=2"),
        ("Final answer: \\(x^2 + 1\\)", "x^2 + 1"),
        ("Therefore \\boxed{3}.", "3"),
        ("Thus \\boxed{\\frac{1}{2}} is it.", "\\frac{1}{2}"),
        ("Final answer: \\boxed{\\{1, 2, 3\\}}", "\\{1, 2, 3\\}"),
        ("The answer is 3.", "3"),
        ("After counting, the answer is **3**.", "3"),
        ("Answer: 17", "17"),
        ("Final answer: `strawberry`", "strawberry"),
        ("Final answer:\n```\n1, 2, 3\n```", "1, 2, 3"),
        ("Final answer:\n- 1\n- 2\n- 3", "1, 2, 3"),
        ("Final answer: 3.14", "3.14"),
        ("Final answer: 2 guesses. Final answer: 5", "5"),
        ("Final answer: 1\nwait, recheck.\nFinal answer: 2", "2"),
        ("Final answer: The answer is 9.", "9"),
        ("Final Answer: **-0.5**", "-0.5"),
        ("Final answer: the max of \\( y \\) is \\( 1 \\).", "the max of y is 1"),
    ],
)
def test_stated_answers(text: str, expected: str) -> None:
    assert extract_final_answer(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("There are 3 r's.\n\nSo: 3", "So: 3"),
        ("The roots are:\n\n1, 2, 3\n", "1, 2, 3"),
        ("Here:\n```python\nprint(1)\n```\nIt prints 1.", "It prints 1"),
        ("```\nonly code\n```", "only code"),
        ("", ""),
    ],
)
def test_fallback_is_the_last_line(text: str, expected: str) -> None:
    assert find_final_answer(text) is None or text == ""
    assert extract_final_answer(text) == expected


def test_answer_from_parts_prefers_the_latest_statement() -> None:
    parts = [
        TextPart(text="Final answer: 10"),
        CodePart(code="print(11)"),
        ResultPart(outcome="OUTCOME_OK", output="11\n"),
        TextPart(text="I verified it: the answer is 11."),
    ]
    assert answer_from_parts(parts) == "11"


def test_answer_from_parts_falls_back_to_an_earlier_statement() -> None:
    parts = [TextPart(text="Final answer: 10"), TextPart(text="Done checking")]
    assert answer_from_parts(parts) == "10"


def test_answer_from_parts_uses_output_when_there_is_no_text() -> None:
    parts = [
        CodePart(code="print(5)"),
        ResultPart(outcome="OUTCOME_OK", output="5\n[figure 1 shown]"),
        CodePart(code="1/0"),
        ResultPart(outcome="OUTCOME_FAILED", output="ZeroDivisionError"),
    ]
    assert answer_from_parts(parts) == "5"
    assert answer_from_parts([]) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Final answer: 3*x**2 + 2", "3*x**2 + 2"),
        ("Final answer: **5**", "5"),
        ("**Final answer:** 42", "42"),
        ("**Final answer: 42**", "42"),
        ("Final answer: __init__", "__init__"),
        ("Final answer: `__init__`", "__init__"),
        ("Final answer: 2**10 = 1024", "2**10 = 1024"),
        ("Final answer: **x = 2**.", "x = 2"),
        ("Final answer: *7*", "7"),
        ("Final answer: a_b__c", "a_b__c"),
        ("Final answer: f(x) = x**3 - x**2", "f(x) = x**3 - x**2"),
        ("Final answer: the result is **3** apples", "the result is 3 apples"),
        ("The answer is **2*x**", "2*x"),
        ("Answer: x**2", "x**2"),
        ("Final answer: \\boxed{x**2}", "x**2"),
        ("Final answer: `a * b`", "a * b"),
        ("Final answer: ***5***", "5"),
    ],
)
def test_the_answers_own_characters_are_kept(text: str, expected: str) -> None:
    assert extract_final_answer(text) == expected
