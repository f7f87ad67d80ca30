"""Deterministic scoring of a final answer against a task's answer, by the task's kind.

`score(task, final_answer)` returns True/False, or None when there is nothing to score (no
answer given, or the task has no reference answer).
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

import sympy as sp

from benchmarks.parse import after_equals, clean, number_tokens, parse_number, to_complex, to_expr

DEFAULT_REL_TOL = 1e-6
ABS_TOL = 1e-9


def close(a: complex, b: complex, rel_tol: float) -> bool:
    return abs(a - b) <= max(rel_tol * max(abs(a), abs(b)), ABS_TOL)


# ---------------------------------------------------------------- int
def parse_int(text: str) -> int | None:
    """The integer a short answer states ('42', 'x = 42', '**42** apples', '1,234', '42.0')."""
    s = after_equals(clean(text))
    tokens = number_tokens(s)
    values = {float(sp.Rational(tok)) if "/" in tok else float(tok) for tok in tokens}
    if len(values) != 1:  # none, or several different numbers: not a clear answer
        return None
    value = values.pop()
    return int(value) if value.is_integer() and abs(value) < 2**63 else None


def score_int(answer: Any, given: str) -> bool:
    value = parse_int(given)
    return value is not None and value == int(answer)


# ---------------------------------------------------------------- number
def score_number(answer: Any, given: str, rel_tol: float) -> bool:
    value = parse_number(given)
    if value is None:
        return False
    expected = parse_number(str(answer)) if isinstance(answer, str) else complex(answer)
    return expected is not None and close(value, expected, rel_tol)


# ---------------------------------------------------------------- set
PREFIX = re.compile(
    r"^(?:the\s+)?(?:real\s+|complex\s+)?(?:roots|solutions|zeros)\s+(?:are|is)\s*:?\s*", re.I
)


def split_items(text: str) -> list[str]:
    """'x = 1, x = -2 and x = 3' / '[1, 2]' / '{1; 2}' -> the separate items."""
    s = PREFIX.sub("", clean(text))
    s = re.sub(r"\b[a-zA-Z]\w*\s*=", " ", s)  # x = ..., x_1 = ...
    s = re.sub(r"\s+(?:and|or)\s+", ",", s)
    s = s.strip()
    while len(s) >= 2 and s[0] + s[-1] in ("[]", "{}", "()") and balanced(s[1:-1]):
        s = s[1:-1].strip()
    items, depth, cur = [], 0, ""
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch in ",;" and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    out = []
    for item in (i.strip() for i in items):
        if "±" in item or "+-" in item:  # 2 ± 3i -> 2 + 3i, 2 - 3i
            left, _, right = item.replace("+-", "±").partition("±")
            out += [f"{left}+({right})", f"{left}-({right})"]
        elif item:
            out.append(item)
    return out


def balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth < 0:
            return False
    return depth == 0


def parse_set(text: str | list[Any]) -> list[complex] | None:
    items = [str(v) for v in text] if isinstance(text, list) else split_items(text)
    values: list[complex] = []
    for item in items:
        expr = to_expr(clean(item))
        value = to_complex(expr) if expr is not None else None
        if value is None:
            return None
        values.append(value)
    return values


def score_set(answer: Any, given: str, rel_tol: float) -> bool:
    got, expected = parse_set(given), parse_set(answer)
    if not got or not expected:
        return False
    distinct: list[complex] = []
    for v in got:  # a repeated root stated twice counts once
        if not any(close(v, d, rel_tol) for d in distinct):
            distinct.append(v)
    if len(distinct) != len(expected):
        return False
    return all(any(close(e, v, rel_tol) for v in distinct) for e in expected)


# ---------------------------------------------------------------- text
def normalise_text(text: str, case_sensitive: bool = False) -> str:
    s = clean(str(text))
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"\s*([,;|:])\s*", r"\1 ", s).strip()
    return s if case_sensitive else s.casefold()


def score_text(answer: Any, given: str, case_sensitive: bool) -> bool:
    return normalise_text(given, case_sensitive) == normalise_text(answer, case_sensitive)


# ---------------------------------------------------------------- expr
def parse_expression(text: str) -> sp.Expr | None:
    s = clean(text)
    if re.match(r"^\s*[a-zA-Z]\w*(\([^()]*\))?\s*=", s):  # y(t) = ...
        s = s.split("=", 1)[1]
    return to_expr(s.strip(), symbols=True)


def score_expr(answer: Any, given: str) -> bool:
    a, b = parse_expression(str(answer)), parse_expression(given)
    if a is None or b is None:
        return False
    diff = sp.sympify(a) - sp.sympify(b)
    try:
        if sp.simplify(diff) == 0:
            return True
    except Exception:  # simplify can fail on odd input; fall back to sampling
        pass
    return numerically_zero(diff)


def numerically_zero(diff: sp.Expr, points: int = 6) -> bool:
    """simplify misses some identities: check the difference at fixed pseudo-random points."""
    symbols = sorted(diff.free_symbols, key=str)
    rng = random.Random(0)
    for _ in range(points):
        subs = {s: sp.Float(rng.uniform(0.1, 2.0)) for s in symbols}
        value = to_complex(diff.subs(subs))
        if value is None or not math.isclose(abs(value), 0.0, abs_tol=1e-9):
            return False
    return True


# ---------------------------------------------------------------- entry point
def score(task: dict[str, Any], final_answer: str | None) -> bool | None:
    """Whether `final_answer` is right for `task`; None if there is no answer to judge."""
    if "answer" not in task or task["answer"] is None:
        return None
    if final_answer is None or not str(final_answer).strip():
        return None
    kind = task.get("kind") or guess_kind(task["answer"])
    rel_tol = float(task.get("rel_tol") or DEFAULT_REL_TOL)
    given = str(final_answer)
    if kind == "int":
        return score_int(task["answer"], given)
    if kind == "number":
        return score_number(task["answer"], given, rel_tol)
    if kind == "set":
        return score_set(task["answer"], given, rel_tol)
    if kind == "expr":
        return score_expr(task["answer"], given)
    if kind == "text":
        return score_text(task["answer"], given, bool(task.get("case_sensitive")))
    raise ValueError(f"task {task.get('id')!r}: unknown kind {kind!r} (int|number|set|text|expr)")


def guess_kind(answer: Any) -> str:
    """External task files may omit `kind`: infer it from the answer's JSON type."""
    if isinstance(answer, bool):
        return "text"
    if isinstance(answer, int):
        return "int"
    if isinstance(answer, float):
        return "number"
    if isinstance(answer, list):
        return "set"
    return "text"
