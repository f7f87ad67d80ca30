"""With code (greedy), without code (greedy) and the cross-check, from one --crosscheck run.

Usage: python results/dev/r3/analyze.py results/dev/r3/crosscheck.jsonl
"""

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from benchmarks.scoring import score  # noqa: E402

SUITE = ROOT.parent / "shared" / "data" / "gsm8k-train-400.jsonl"


def main(path: str) -> None:
    tasks = {}
    for line in SUITE.read_text().splitlines():
        task = json.loads(line)
        tasks[task["id"]] = task
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    code = words = cross = either = 0
    for r in rows:
        task = tasks[r["id"]]
        answers = r["samples"] or [r["final_answer"]]
        c = bool(score(task, answers[0]))
        w = len(answers) > 1 and bool(score(task, answers[1]))
        code, words, cross, either = code + c, words + w, cross + r["correct"], either + (c or w)
        flag = "" if c == r["correct"] else (" FIXED" if r["correct"] else " BROKE")
        print(
            f"{r['id']} code={c:d} words={w:d} cross={r['correct']:d} "
            f"{r['duration_s']:7.1f}s n={len(answers)}{flag}"
        )
    times = [r["duration_s"] for r in rows]
    print(
        f"n={len(rows)} code {code} words {words} crosscheck {cross} either {either}; "
        f"mean {statistics.mean(times):.1f}s median {statistics.median(times):.1f}s"
    )


if __name__ == "__main__":
    main(sys.argv[1])
