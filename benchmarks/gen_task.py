"""The task record every suite file holds (one JSON object a line)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Task = dict[str, Any]
KINDS = ("int", "number", "set", "text", "expr")


def task(
    prefix: str,
    index: int,
    question: str,
    answer: Any,
    kind: str,
    category: str,
    rel_tol: float | None = None,
    *,
    files: list[str] | None = None,
    case_sensitive: bool = False,
) -> Task:
    assert kind in KINDS, kind
    record: Task = {
        "id": f"{prefix}-{index:03d}",
        "question": question,
        "answer": answer,
        "kind": kind,
        "category": category,
    }
    if rel_tol is not None:
        record["rel_tol"] = rel_tol
    if files:
        record["files"] = files
    if case_sensitive:
        record["case_sensitive"] = True
    return record


def distinct(
    make: Callable[[random.Random, int], Task],
) -> Callable[[random.Random, int], list[Task]]:
    """Turn a one-task maker into a category generator whose questions are all different."""

    def generate(rng: random.Random, n: int) -> list[Task]:
        tasks: list[Task] = []
        seen: set[str] = set()
        for i in range(n):
            for _ in range(200):
                t = make(rng, i)
                if t["question"] not in seen:
                    break
            else:
                raise RuntimeError(f"{make.__name__}: cannot draw {n} different tasks")
            seen.add(t["question"])
            tasks.append(t)
        return tasks

    generate.__name__ = make.__name__
    return generate
