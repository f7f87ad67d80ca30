"""Checks of an answer against its question before the solve accepts it.

A small model's code often runs fine yet computes the wrong thing; the commonest sign is a
quantity of the question that the code never uses (a fixed cost left out of a profit, a second
rate ignored). `unused_numbers` finds the question's numbers that appear in none of the code
that ran; `agent.consistency.solve_checked` then samples more solves and votes.

Measured on GSM8K-train (first 40, 1.5B): asking the model once whether the unused numbers
matter changed none of its answers (it repeated them), so the check now triggers resampling.

`answer_contradicts_output` catches the other common slip: a run prints the right value and the
model then answers with a number it had guessed before the code (a word count of 30 after the
code printed 49); the loop asks once for the answer the output shows.
"""

from __future__ import annotations

import io
import math
import re
import tokenize

_QUESTION_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%?)")
_CODE_NUMBER = re.compile(r"(?<![\w.])\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?")


def question_numbers(question: str) -> list[tuple[str, float]]:
    """(as written, value) for each number in the question, first occurrence only."""
    seen: dict[str, float] = {}
    for match in _QUESTION_NUMBER.finditer(question):
        whole, fraction, percent = match.groups()
        written = whole + (fraction or "") + percent
        value = float(whole.replace(",", "") + (fraction or ""))
        seen.setdefault(written, value)
    return list(seen.items())


def code_numbers(code: str) -> set[float]:
    """The numeric literals of `code`, comments and strings left out (a quantity named only in
    a comment is not used)."""
    found: set[float] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.NUMBER:
                _add(found, tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        for literal in _CODE_NUMBER.findall(re.sub(r"#.*", "", code)):
            _add(found, literal)
    return found


def _add(found: set[float], literal: str) -> None:
    try:
        found.add(float(literal.replace("_", "").rstrip("jJlL")))
    except ValueError:
        pass


def unused_numbers(question: str, codes: list[str]) -> list[str]:
    """The question's numbers (as written) that none of `codes` uses, neither as the value nor,
    for a percentage, as a fraction (20% as 0.2). 0 and 1 are ignored: they are as often part
    of the wording ("1 of them") as quantities."""
    used: set[float] = set()
    for code in codes:
        used |= code_numbers(code)
    missing = []
    for written, value in question_numbers(question):
        if value in (0.0, 1.0):
            continue
        candidates = [value, value / 100] if written.endswith("%") else [value]
        if not any(_close(c, u) for c in candidates for u in used):
            missing.append(written)
    return missing


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


_VALUE = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def numbers_of(text: str) -> list[tuple[float, int]]:
    """(value, decimals written) of each unsigned number in `text`; "1,234.5" is one number."""
    found = []
    for literal in _VALUE.findall(text):
        plain = literal.replace(",", "")
        decimals = len(plain.split(".", 1)[1]) if "." in plain else 0
        found.append((float(plain), decimals))
    return found


def answer_contradicts_output(answer: str, output: str) -> bool:
    """True when the answer states a number that the code's output does not show, even rounded
    to the answer's own decimals (the output 104.996 shows the answer 105; 49 does not show 30).
    Signs are ignored ("how many fewer" answered 20 from an output of -20). Answers without a
    number are not judged: their form varies too much (True/yes, a list, a name)."""
    shown = [value for value, _ in numbers_of(output)]
    stated = numbers_of(answer)
    if not shown or not stated:
        return False
    for value, decimals in stated:
        half_unit = 0.5 * 10.0**-decimals
        if not any(abs(value - s) <= half_unit + 1e-9 * max(1.0, s) for s in shown):
            return True
    return False
