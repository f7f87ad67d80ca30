"""Tables of a round-6 run: what each mode got right and its time per task, plus answers
derived offline from the same records (greedy solve first, K=4, mixed votes).
Usage: python results/dev/r6/analyze.py results/dev/r6/gsm201-240.jsonl"""

import json
import statistics
import sys
from collections import Counter

from agent.vote import Ballot, answer_key, rounds, settled, tally
from benchmarks.scoring import score


def vote(answers: list[str]) -> str:
    count = tally([Ballot(a, bool(a)) for a in answers])
    return answers[count.winner] if count.winner is not None else ""


def adaptive(samples: list[str], k: int) -> tuple[str, int]:
    """The answer and the number of solves `--samples k` draws, replayed on a K >= k record
    (the same seeds draw the same samples, so the first k of them are what K = k drew)."""
    drawn = 0
    for before, size in rounds(k):
        drawn = before + size
        ballots = [Ballot(a, bool(a)) for a in samples[:drawn]]
        if settled(ballots, k - drawn) or drawn >= len(samples):
            break
    return vote(samples[:drawn]), min(drawn, len(samples))


def main() -> None:
    rows = [json.loads(line) for line in open(sys.argv[1])]
    k = next(int(key[7:]) for key in rows[0] if key.startswith("samples") and key[7:].isdigit())
    right: Counter = Counter()
    drawn: list[int] = []
    for r in rows:
        task = {"id": r["id"], "answer": r["answer"]}
        samples = r[f"samples{k}_samples"] or [r[f"samples{k}"]]
        greedy = (r["default_samples"] or [r["default"]])[0]
        right["solve first, greedy (the default's first answer)"] += score(task, greedy)
        four, n = adaptive(samples, 4)
        drawn.append(n)
        right["--samples 4 (replayed)"] += score(task, four)
        both = (
            greedy if answer_key(greedy) == answer_key(r["words"]) else vote([r["words"], *samples])
        )
        right[f"words and code agree, else words + {k} samples vote"] += score(task, both)
        right["either greedy answer right (oracle)"] += score(task, greedy) or r["words_ok"]
    n = len(rows)
    print(f"{n} tasks\n\n| mode | right | mean time per task | median |\n|---|---:|---:|---:|")
    for mode, label in [
        ("words", "without code (greedy)"),
        ("default", "default (solve first, --recheck 4)"),
        (f"samples{k}", f"--samples {k} (adaptive)"),
    ]:
        times = [r["t_" + mode] for r in rows]
        ok = sum(r[mode + "_ok"] for r in rows)
        print(
            f"| {label} | {ok}/{n} | {statistics.mean(times):.1f} s | {statistics.median(times):.1f} s |"
        )
    solves = [len(r[f"samples{k}_samples"]) for r in rows]
    rechecked = sum(bool(r["default_samples"]) for r in rows)
    print(
        f"\n--samples {k}: {statistics.mean(solves):.1f} solves per task; replayed K=4: "
        f"{statistics.mean(drawn):.1f}. The default rechecked {rechecked} of {n} tasks."
    )
    print("\nDerived offline from the same records:")
    for label, ok in right.items():
        print(f"- {label}: {ok}/{n}")


main()
