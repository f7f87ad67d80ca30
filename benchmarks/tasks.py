"""Loading and selecting tasks: the built-in suites or any task file in the contract's JSONL."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from benchmarks.gen_task import KINDS

DATA_DIR = Path(__file__).resolve().parent / "data"
BUILTIN = ("equations", "text")

Task = dict[str, Any]


class TaskFileError(ValueError):
    """A task file that cannot be used (missing, not JSONL, bad fields)."""


def suite_path(suite: str) -> Path:
    if suite in BUILTIN:
        return DATA_DIR / f"{suite}.jsonl"
    path = Path(suite).expanduser()
    if not path.is_file():
        raise TaskFileError(
            f"unknown suite {suite!r}: use equations, text, all or the path of a .jsonl task file"
        )
    return path


def read_tasks(path: Path, suite: str) -> list[Task]:
    """The tasks of one file, each tagged with its suite name and the folder its files are in."""
    tasks: list[Task] = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                task = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(task, dict) or not isinstance(task.get("question"), str):
                raise TaskFileError(f'{path}:{number}: a task needs a "question" string')
            if "id" not in task:
                raise TaskFileError(f'{path}:{number}: a task needs an "id"')
            if task.get("kind") is not None and task["kind"] not in KINDS:
                raise TaskFileError(f"{path}:{number}: kind must be one of {', '.join(KINDS)}")
            task["id"] = str(task["id"])
            task.setdefault("suite", suite)
            task.setdefault("category", "")
            task["_dir"] = str(path.resolve().parent)
            tasks.append(task)
    ids = [t["id"] for t in tasks]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise TaskFileError(f"{path}: task id {dup!r} occurs more than once")
    return tasks


def load_suite(suite: str) -> list[Task]:
    if suite == "all":
        return [t for name in BUILTIN for t in read_tasks(suite_path(name), name)]
    path = suite_path(suite)
    return read_tasks(path, suite if suite in BUILTIN else path.stem)


def ids_in(paths: list[Path]) -> set[str]:
    """The task ids named in JSONL files: task files or results files (both carry "id")."""
    ids: set[str] = set()
    for path in paths:
        if not path.is_file():
            raise TaskFileError(f"{path}: no such file")
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    ids.add(str(json.loads(line)["id"]))
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise TaskFileError(
                        f'{path}:{number}: not a JSON object with an "id"'
                    ) from None
    return ids


def stratified(tasks: list[Task], per_category: int, seed: int) -> list[Task]:
    """At most `per_category` tasks of each category, drawn stably for the seed, in file order."""
    rng = random.Random(seed)
    by_category: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        by_category.setdefault(task.get("category", ""), []).append(i)
    keep: set[int] = set()
    for name in sorted(by_category):
        indices = by_category[name]
        keep.update(rng.sample(indices, min(per_category, len(indices))))
    return [t for i, t in enumerate(tasks) if i in keep]


def select(
    tasks: list[Task],
    category: str | None = None,
    sample: int | None = None,
    seed: int = 0,
    offset: int = 0,
    limit: int | None = None,
    exclude: set[str] | None = None,
    per_category: int | None = None,
) -> list[Task]:
    """Drop excluded ids, filter by category, draw a stable random sample (kept in file order),
    then offset/limit."""
    if exclude:
        tasks = [t for t in tasks if t["id"] not in exclude]
    if category:
        wanted = {c.strip() for c in category.split(",")}
        tasks = [t for t in tasks if t.get("category") in wanted]
    if per_category is not None:
        tasks = stratified(tasks, per_category, seed)
    if sample is not None and sample < len(tasks):
        keep = set(random.Random(seed).sample(range(len(tasks)), sample))
        tasks = [t for i, t in enumerate(tasks) if i in keep]
    tasks = tasks[offset:]
    return tasks if limit is None else tasks[:limit]


def task_files(task: Task) -> list[tuple[str, bytes]]:
    """The task's input files as (name, bytes), looked up next to its task file."""
    out = []
    base = Path(task.get("_dir") or ".")
    for name in task.get("files") or []:
        candidates = [base / "files" / name, base / name, Path(name).expanduser()]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"task {task['id']}: file {name!r} not found (looked in {base / 'files'} and {base})"
            )
        out.append((Path(name).name, path.read_bytes()))
    return out
