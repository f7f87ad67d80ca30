"""`python -m benchmarks report results.jsonl [...]`: accuracy, steps, tokens and time per run."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.misses import print_misses
from benchmarks.results_file import read_records

Record = dict[str, Any]
Key = tuple[str, str, bool]  # suite, model, code execution


@dataclass
class Row:
    suite: str
    model: str
    code: bool
    n: int
    correct: int
    steps: float
    prompt: float
    tool_use: float
    output: float
    seconds: float
    errors: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def mode(self) -> str:
        return "code" if self.code else "no code"


def usage_of(r: Record, field: str) -> int:
    return int((r.get("usage") or {}).get(field) or 0)


def summarise(records: list[Record]) -> Row:
    r0 = records[0]
    return Row(
        suite=str(r0.get("suite") or "?"),
        model=str(r0.get("model") or "?"),
        code=bool(r0.get("code_execution")),
        n=len(records),
        correct=sum(bool(r.get("correct")) for r in records),
        steps=mean(float(r.get("steps") or 0) for r in records),
        prompt=mean(usage_of(r, "promptTokenCount") for r in records),
        tool_use=mean(usage_of(r, "toolUsePromptTokenCount") for r in records),
        output=mean(usage_of(r, "candidatesTokenCount") for r in records),
        seconds=mean(float(r.get("duration_s") or 0) for r in records),
        errors=sum(bool(r.get("error")) for r in records),
    )


def group(records: list[Record], by_category: bool = False) -> dict[tuple[Any, ...], list[Record]]:
    groups: dict[tuple[Any, ...], list[Record]] = defaultdict(list)
    seen: set[tuple[Any, ...]] = set()
    for r in records:
        key: tuple[Any, ...] = (r.get("suite"), r.get("model"), bool(r.get("code_execution")))
        if by_category:
            key += (r.get("category") or "",)
        if (key, r.get("id")) in seen:  # the same task in two files: count it once
            continue
        seen.add((key, r.get("id")))
        groups[key].append(r)
    return dict(sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])))


def rows(records: list[Record]) -> list[Row]:
    return [summarise(rs) for rs in group(records).values()]


def load(paths: list[Path]) -> list[Record]:
    records: list[Record] = []
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no results file {path}")
        records += read_records(path)
    return records


def table(rs: list[Row]) -> Table:
    t = Table(title="Benchmark results (tokens: mean per task)")
    for col in (
        "suite",
        "model",
        "mode",
        "n",
        "accuracy",
        "steps",
        "prompt tok",
        "tool-use tok",
        "output tok",
        "time s",
        "errors",
    ):
        t.add_column(col, justify="left" if col in ("suite", "model", "mode") else "right")
    for r in rs:
        t.add_row(
            r.suite, r.model, r.mode, str(r.n), f"{100 * r.accuracy:.1f}%", f"{r.steps:.2f}",
            f"{r.prompt:.0f}", f"{r.tool_use:.0f}", f"{r.output:.0f}", f"{r.seconds:.1f}", str(r.errors),
        )  # fmt: skip
    return t


def category_table(records: list[Record]) -> Table:
    t = Table(title="Accuracy by category")
    for col in ("suite", "model", "mode", "category", "n", "accuracy"):
        t.add_column(col, justify="right" if col in ("n", "accuracy") else "left")
    for (suite, model, code, category), rs in group(records, by_category=True).items():
        right = sum(bool(r.get("correct")) for r in rs)
        t.add_row(
            str(suite), str(model), "code" if code else "no code", str(category), str(len(rs)),
            f"{100 * right / len(rs):.1f}%",
        )  # fmt: skip
    return t


def markdown(rs: list[Row]) -> str:
    lines = [
        "| suite | model | code execution | n | accuracy | mean steps | prompt tok | tool-use tok | output tok | mean time (s) | errors |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rs:
        lines.append(
            f"| {r.suite} | {r.model} | {'yes' if r.code else 'no'} | {r.n} | {100 * r.accuracy:.1f}% "
            f"| {r.steps:.2f} | {r.prompt:.0f} | {r.tool_use:.0f} | {r.output:.0f} | {r.seconds:.1f} | {r.errors} |"
        )
    return "\n".join(lines)


def plot(rs: list[Row], out: Path) -> None:
    """Grouped bars: per suite and model, accuracy without vs with code execution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r.suite, r.model) for r in rs})
    acc = {(r.suite, r.model, r.code): 100 * r.accuracy for r in rs}
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(groups) + 2), 4.2))
    xs = range(len(groups))
    for offset, code, color, label in (
        (-width / 2, False, "#9aa5b1", "without code execution"),
        (width / 2, True, "#2b7bb9", "with code execution"),
    ):
        heights = [acc.get((s, m, code), 0.0) for s, m in groups]
        bars = ax.bar([x + offset for x in xs], heights, width, color=color, label=label)
        for bar, (s, m) in zip(bars, groups, strict=True):
            if (s, m, code) in acc:
                ax.annotate(
                    f"{bar.get_height():.0f}%",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
    ax.set_xticks(list(xs), [f"{s}\n{m}" for s, m in groups], fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy with vs without code execution")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks report", description=__doc__)
    p.add_argument("results", nargs="+", type=Path, help="results JSONL files")
    p.add_argument("--by-category", action="store_true", help="also accuracy per category")
    p.add_argument("--plot", type=Path, help="write a PNG bar chart here")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table instead")
    p.add_argument(
        "--misses", action="store_true", help="also each wrong task with its whole transcript"
    )
    args = p.parse_args(argv)
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=160)
    try:
        records = load(args.results)
    except FileNotFoundError as exc:
        Console(stderr=True).print(f"[red]error[/]: {exc}")
        return 2
    if not records:
        Console(stderr=True).print("[red]error[/]: no results in the given files")
        return 2
    rs = rows(records)
    if args.markdown:
        print(markdown(rs))
    else:
        console.print(table(rs))
    if args.by_category:
        console.print(category_table(records))
    if args.misses:
        print_misses(records, console)
    if args.plot:
        plot(rs, args.plot)
        console.print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
