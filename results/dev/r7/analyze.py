"""Round 7's tables: GSM8K train 201-240 and 241-280 answered several ways in one run each, and
fresh suite samples (--per-category 2 --seed 41) per strategy. Usage: python results/dev/r7/analyze.py"""

import json
import statistics
from pathlib import Path

HERE = Path(__file__).parent


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in open(HERE / name)]


def gsm(title: str, records: dict[str, list[dict]]) -> None:
    print(f"\n{title}\n| mode | right | mean time per task | median |\n|---|---:|---:|---:|")
    for label, (data, mode) in records.items():
        ok = sum(r[mode + "_ok"] for r in data)
        times = [r["t_" + mode] for r in data]
        print(
            f"| {label} | {ok}/{len(data)} | {statistics.mean(times):.1f} s "
            f"| {statistics.median(times):.1f} s |"
        )


def suite(name: str, files: dict[str, str]) -> None:
    print(f"\n{name}, --per-category 2 --seed 41\n| strategy | right | mean time per task |")
    print("|---|---:|---:|")
    runs = {
        label: {r["id"]: r for r in rows(f)} for label, f in files.items() if (HERE / f).exists()
    }
    for label, run in runs.items():
        done = list(run.values())
        ok = sum(bool(r["correct"]) for r in done)
        mean = statistics.mean(r["duration_s"] for r in done)
        print(f"| {label} | {ok}/{len(done)} ({100 * ok / len(done):.1f}%) | {mean:.1f} s |")


def main() -> None:
    r6 = {r["id"]: r for r in rows("../r6/gsm201-240.jsonl")}
    first = rows("gsm201-240.jsonl")
    for r in first:
        r.update({k: v for k, v in r6[r["id"]].items() if k.startswith(("words", "t_words"))})
    records = {
        "without code (r6 run)": (first, "words"),
        "solve first, worked examples": (first, "sf"),
        "solve first, examples with step-by-step solutions": (first, "natural"),
        "solve first zero-shot (first prompt)": (first, "noshots"),
    }
    if (HERE / "gsm201-240-zs2.jsonl").exists():
        records["solve-first-zero-shot + answer check (separate run)"] = (
            rows("gsm201-240-zs2.jsonl"),
            "zeroshot",
        )
    gsm("GSM8K train 201-240", records)
    fresh = rows("gsm241-280.jsonl")
    gsm(
        "GSM8K train 241-280 (fresh)",
        {
            "without code": (fresh, "words"),
            "solve first, worked examples": (fresh, "sf"),
            "solve first zero-shot (first prompt)": (fresh, "zeroshot"),
        },
    )
    for name in ("equations", "text"):
        suite(
            name,
            {
                "solve-first": f"{name}-seed41-solve-first.jsonl",
                "zero-shot (first prompt)": f"{name}-seed41-solve-first-zero-shot.jsonl",
                "zero-shot + answer check": f"{name}-seed41-zs2.jsonl",
                "auto (the default) + answer check": f"{name}-seed41-auto.jsonl",
            },
        )


main()
