"""Scorers: right and wrong answers of every kind, near misses outside tolerance, missing answers."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.scoring import parse_int, score, split_items


def t(kind: str, answer: Any, **extra: Any) -> dict[str, Any]:
    return {"id": "t", "question": "q", "answer": answer, "kind": kind, **extra}


CASES = [
    (
        t("int", 42),
        ["42", "x = 42", "**42**", "The answer is 42.", "42.0", r"\boxed{42}", "42 apples"],
        ["43", "41.5", "42 or 43", "4 2"],
    ),
    (t("int", 1234), ["1,234", "1234", "$1,234"], ["123", "1,2345"]),
    (t("int", -4), ["w = -4", "-4", "−4"], ["4"]),
    (
        t("number", 0.4364085948767579, rel_tol=1e-7),
        ["0.43640859", "x ≈ 0.43640859", "4.3640859e-1", "4.3640859 x 10^-1"],
        ["0.4364", "0.43640", "0.43641"],
    ),
    (t("number", 2**0.5), ["sqrt(2)", "1.41421356237", r"\sqrt{2}", "√2", "2^(1/2)"], ["1.414"]),
    (t("number", 0.75), ["3/4", r"\frac{3}{4}", "0.75", "$0.75$"], ["0.7", "3/5"]),
    (t("number", 12345.67, rel_tol=1e-9), ["12345.67", "$12,345.67", "12,345.67"], ["12345.6"]),
    (t("number", 1200.0), ["1.2e3", "1200", "1.2 × 10^3"], ["1.2e4"]),
    (
        t("set", ["11", "7", "1"]),
        [
            "1, 7, 11",
            "[1, 7, 11]",
            "x=1, x=7, x=11",
            "{11,7,1}",
            "x = 1, x = 7 and x = 11",
            "The roots are 1, 7, and 11.",
        ],
        ["1, 7", "1, 7, 11, 12", "1,7,10", "1 7 11"],
    ),
    (t("set", ["5", "1", "7/5"]), ["1, 1.4, 5", "7/5, 5, 1"], ["1, 1.41, 5"]),
    (
        t("set", ["3 - sqrt(17)", "3 + sqrt(17)"], rel_tol=1e-7),
        [
            "3 ± sqrt(17)",
            "3+sqrt(17), 3-sqrt(17)",
            "-1.1231056256, 7.1231056256",
            r"3 \pm \sqrt{17}",
        ],
        ["-1.12, 7.12", "3 + sqrt(17)"],
    ),
    (
        t("set", ["-3", "4 + 4*I", "4 - 4*I"]),
        ["-3, 4+4i, 4-4i", "-3, 4 + 4j, 4 - 4j", "-3, 4±4i", "x = -3, x = 4 + 4i, x = 4 - 4i"],
        ["-3, 4+4i", "-3, 4+4i, 4+4i", "-3, 4, 4"],
    ),
    (t("set", ["-4*I", "4*I", "-5"]), ["-5, 4i, -4i", "-5, ±4i"], ["-5, 4, -4"]),
    (
        t("text", "Gadget"),
        ["gadget", "**Gadget**", "Gadget.", '"Gadget"'],
        ["Widget", "The product is Gadget"],
    ),
    (
        t("text", "lemon, camera, cobalt"),
        ["lemon,camera,cobalt", "Lemon, Camera, Cobalt"],
        ["lemon, cobalt, camera"],
    ),
    (t("text", "hOLA", case_sensitive=True), ["hOLA", " hOLA "], ["hola", "HOLA"]),
    (t("text", "Ann: 90 | Bob: 75"), ["Ann:90 | Bob:75", "ann: 90|bob: 75"], ["Bob: 75 | Ann: 90"]),
    (t("text", "snake_case_word", case_sensitive=True), ["`snake_case_word`"], ["snakecaseword"]),
    (
        t("expr", "2/3 + 4*exp(-3*t)/3"),
        [
            "y(t) = 2/3 + (4/3)*exp(-3*t)",
            "(2 + 4 e^{-3t})/3",
            "2/3 + 4/3 e^(-3t)",
            r"\frac{2}{3} + \frac{4}{3}e^{-3t}",
            "y = (4*exp(-3*t)+2)/3",
        ],
        ["2/3 + 4*exp(-3*t)", "2/3 + 4/3*exp(3t)", "import os", "__import__('os')"],
    ),
]


@pytest.mark.parametrize(
    ("task", "good", "bad"), CASES, ids=[f"{c[0]['kind']}-{i}" for i, c in enumerate(CASES)]
)
def test_right_and_wrong_answers(task: dict[str, Any], good: list[str], bad: list[str]) -> None:
    for answer in good:
        assert score(task, answer) is True, answer
    for answer in bad:
        assert score(task, answer) is False, answer


@pytest.mark.parametrize("kind", ["int", "number", "set", "text", "expr"])
def test_missing_answer_is_none(kind: str) -> None:
    task = t(kind, {"int": 1, "number": 1.0, "set": ["1"], "text": "a", "expr": "t"}[kind])
    assert score(task, None) is None
    assert score(task, "   ") is None


def test_task_without_reference_answer_is_unscored() -> None:
    assert score({"id": "x", "question": "q"}, "42") is None


def test_default_tolerance_is_one_in_a_million() -> None:
    task = t("number", 100.0)
    assert score(task, "100.00009") is True
    assert score(task, "100.0002") is False


def test_kind_guessed_from_answer_type() -> None:
    assert score({"id": "x", "answer": 7}, "7") is True
    assert score({"id": "x", "answer": 0.5}, "1/2") is True
    assert score({"id": "x", "answer": ["1", "2"]}, "2, 1") is True
    assert score({"id": "x", "answer": "Paris"}, "paris") is True


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        score(t("vector", 1), "1")


def test_parse_int_refuses_ambiguous_answers() -> None:
    assert parse_int("between 3 and 4") is None
    assert parse_int("no idea") is None
    assert parse_int("2^10 mod 7 = 2") == 2


def test_split_items_keeps_complex_numbers_whole() -> None:
    assert split_items("(1+2j), (1-2j)") == ["(1+2j)", "(1-2j)"]
    assert split_items("x₁ = 2 or x₂ = 3") == ["2", "3"]


def test_huge_or_hostile_input_does_not_hang_or_run() -> None:
    assert score(t("number", 1.0), "9" * 400) is False
    assert score(t("number", 1.0), "10^10^10^10") is False
    assert score(t("expr", "t"), "().__class__") is False
