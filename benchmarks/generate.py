"""`python -m benchmarks generate`: rewrite the suite files deterministically from a seed."""

from __future__ import annotations

import argparse
import json
import random
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmarks import gen_dates, gen_equations, gen_tables, gen_text
from benchmarks.gen_task import Task
from benchmarks.gen_word_problems import word_problems

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SEED = 20240611

Gen = Callable[[random.Random, int], list[Task]]

EQUATIONS: list[tuple[Gen, int]] = [*gen_equations.CATEGORIES, (word_problems, 24)]
TEXT: list[tuple[Gen, int]] = [
    (gen_text.letter_counts, 20),
    (gen_text.word_counts, 15),
    (gen_text.most_frequent, 15),
    (gen_text.reverse_recase, 18),
    (gen_text.sort_words, 15),
    (gen_text.regex_tasks, 18),
    (gen_text.dates, 18),
    (gen_dates.relative_dates, 21),
    (gen_text.ciphers, 15),
    (gen_text.dedup, 12),
    (gen_text.formatting, 12),
]


def rng_for(seed: int, name: str) -> random.Random:
    # one stream per category, so changing one generator does not reshuffle the others
    return random.Random(seed * 1_000_003 + zlib.crc32(name.encode()))


def run_gens(gens: list[tuple[Gen, int]], prefix: str, seed: int) -> list[Task]:
    tasks: list[Task] = []
    for gen, n in gens:
        for t in gen(rng_for(seed, gen.__name__), n):
            tasks.append({**t, "id": f"{prefix}-{t['id']}"})
    return tasks


def build(seed: int = DEFAULT_SEED) -> tuple[dict[str, list[Task]], dict[str, str]]:
    """All suites and the data files they reference, from one seed."""
    files: dict[str, str] = {}
    text = run_gens(TEXT, "tx", seed)
    for name, gen, n in (("csv", gen_tables.csv_tasks, 18), ("json", gen_tables.json_tasks, 15)):
        for t in gen(rng_for(seed, name), n, files):
            text.append({**t, "id": f"tx-{t['id']}"})
    suites = {"equations": run_gens(EQUATIONS, "eq", seed), "text": text}
    for tasks in suites.values():
        ids = [t["id"] for t in tasks]
        assert len(ids) == len(set(ids)), "duplicate task ids"
    return suites, files


def write(out_dir: Path, suites: dict[str, list[Task]], files: dict[str, str]) -> None:
    (out_dir / "files").mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / "files").iterdir():
        if stale.name not in files:
            stale.unlink()
    for name, content in files.items():
        (out_dir / "files" / name).write_text(content, encoding="utf-8")
    for suite, tasks in suites.items():
        with open(out_dir / f"{suite}.jsonl", "w", encoding="utf-8") as fh:
            for t in tasks:
                fh.write(json.dumps(t, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks generate", description=__doc__)
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--out-dir", type=Path, default=DATA_DIR)
    args = p.parse_args(argv)
    suites, files = build(args.seed)
    write(args.out_dir, suites, files)
    for suite, tasks in suites.items():
        counts = Counter(t["category"] for t in tasks)
        detail = ", ".join(f"{c} {k}" for c, k in counts.items())
        print(f"{suite}: {len(tasks)} tasks ({detail})")
    print(f"{len(files)} data files in {args.out_dir / 'files'}")
    return 0
