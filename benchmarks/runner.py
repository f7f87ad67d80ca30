"""`python -m benchmarks run`: solve a suite's tasks with a model and score the answers.

Results are appended to a JSONL file as each task finishes (`--resume` continues a run that
was stopped); a task that fails is recorded with its error and the run goes on.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agent.strategies import STRATEGIES
from benchmarks.execute import Job, Raw, failed, run_ray, run_threads
from benchmarks.results_file import ResultsFile
from benchmarks.scoring import score
from benchmarks.tasks import Task, TaskFileError, ids_in, load_suite, select, task_files


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks run", description=__doc__)
    p.add_argument("--suite", required=True, help="equations, text, all, or PATH.jsonl")
    p.add_argument(
        "--model", default="local", help="model SPEC, e.g. local, local:0.5b, openai:gpt-4o-mini"
    )
    p.add_argument("--no-code-execution", dest="code_execution", action="store_false")
    p.add_argument("--limit", type=int, help="run at most N tasks")
    p.add_argument("--offset", type=int, default=0, help="skip the first N (selected) tasks")
    p.add_argument("--category", help="only these categories (comma-separated)")
    p.add_argument("--sample", type=int, help="a random sample of N tasks (stable for a seed)")
    p.add_argument(
        "--per-category",
        type=int,
        metavar="N",
        help="a stratified random sample: N tasks of each category (stable for a seed)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for --sample and --per-category")
    p.add_argument(
        "--exclude",
        type=Path,
        action="append",
        default=[],
        metavar="JSONL",
        help="leave out the task ids in this task or results file (repeatable), e.g. the tasks "
        "a prompt was tuned on",
    )
    p.add_argument("--concurrency", type=int, default=1, help="tasks solved at once")
    p.add_argument(
        "--out", type=Path, help="results JSONL (default results/<suite>-<model>-<mode>.jsonl)"
    )
    p.add_argument("--resume", action="store_true", help="skip tasks already in --out")
    p.add_argument("--retry-errors", action="store_true", help="with --resume: redo failed tasks")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--task-timeout", type=float, default=300.0, help="time budget per task, s")
    p.add_argument("--max-steps", type=int, default=10, help="model calls per task at most")
    p.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="K",
        help="self-consistency: K solves per task, the majority answer counts (1)",
    )
    p.add_argument(
        "--recheck",
        type=int,
        default=4,
        metavar="N",
        help="sample N more solves and vote when the code leaves a number unused (4; 0: never)",
    )
    p.add_argument(
        "--crosscheck",
        action="store_true",
        help="also answer without code; when the answers differ, sample --recheck more of each "
        "and vote",
    )
    p.add_argument(
        "--strategy",
        choices=sorted(STRATEGIES),
        help="how a text model is prompted (default: the model's own; see `agent solve --help`)",
    )
    p.add_argument("--ray", metavar="ADDRESS", help="run the tasks on a Ray cluster (or 'auto')")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def slug(text: str) -> str:
    return re.sub(r"[^\w.]+", "-", text).strip("-") or "x"


def default_out(suite: str, model: str, code_execution: bool) -> Path:
    name = Path(suite).stem if suite.endswith(".jsonl") else suite
    kind, _, rest = model.partition(":")
    model_name = f"{kind}-{Path(rest).stem}" if kind == "scripted" else model
    mode = "code" if code_execution else "nocode"
    return Path("results") / f"{slug(name)}-{slug(model_name)}-{mode}.jsonl"


def absolute_model(model: str) -> str:
    """A scripted model's file as an absolute path, so Ray workers in other dirs find it."""
    kind, sep, rest = model.partition(":")
    if kind == "scripted" and sep and Path(rest).exists():
        return f"scripted:{Path(rest).resolve()}"
    return model


def make_record(task: Task, raw: Raw, model: str, code_execution: bool) -> dict[str, Any]:
    try:
        correct = score(task, raw.get("final_answer"))
    except Exception as exc:  # a scorer bug must not lose the answer
        correct, raw = None, {**raw, "error": raw.get("error") or f"scoring: {exc}"}
    return {
        "id": task["id"],
        "suite": task.get("suite"),
        "category": task.get("category"),
        "model": model,
        "code_execution": code_execution,
        "question": task.get("question"),
        "final_answer": raw.get("final_answer"),
        "expected": task.get("answer"),
        "correct": correct,
        "steps": raw.get("steps", 0),
        "usage": raw.get("usage"),
        "duration_s": raw.get("duration_s"),
        "finish_reason": raw.get("finish_reason"),
        "error": raw.get("error"),
        "samples": raw.get("samples") or [],
        "transcript": raw.get("transcript") or [],
    }


def build_jobs(
    tasks: list[Task], args: argparse.Namespace, model: str
) -> tuple[list[Job], list[tuple[Task, Raw]]]:
    """solve_task arguments per task; tasks whose files are missing fail right away."""
    jobs, broken = [], []
    for t in tasks:
        try:
            files = task_files(t)
        except (FileNotFoundError, OSError) as exc:
            broken.append((t, failed(str(exc))))
            continue
        timeout, steps = args.task_timeout, args.max_steps
        job = (
            t["question"],
            model,
            args.code_execution,
            timeout,
            files,
            steps,
            args.samples,
            args.recheck,
            args.crosscheck,
            args.strategy,
        )
        jobs.append((t, job))
    return jobs, broken


def run(args: argparse.Namespace, console: Console) -> int:
    tasks = select(
        load_suite(args.suite),
        args.category,
        args.sample,
        args.seed,
        args.offset,
        args.limit,
        exclude=ids_in(args.exclude),
        per_category=args.per_category,
    )
    out_path = args.out or default_out(args.suite, args.model, args.code_execution)
    out = ResultsFile(
        out_path, resume=args.resume, retry_errors=args.retry_errors, overwrite=args.overwrite
    )
    todo = [t for t in tasks if t["id"] not in out.done_ids]
    model = absolute_model(args.model)
    jobs, broken = build_jobs(todo, args, model)
    mode = "with" if args.code_execution else "without"
    console.print(
        f"{len(tasks)} tasks ({len(tasks) - len(todo)} already done) with {args.model} {mode} code "
        f"execution -> {out_path}"
    )
    results: Generator[tuple[Task, Raw], None, None] = (
        run_ray(jobs, args.ray, args.concurrency)
        if args.ray
        else run_threads(jobs, args.concurrency)
    )
    right = scored = errors = 0
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet,
    )
    try:
        with progress:
            bar = progress.add_task("accuracy -", total=len(todo))
            for task, raw in itertools.chain(broken, results):
                record = make_record(task, raw, args.model, args.code_execution)
                out.append(record)
                scored += 1  # unanswered tasks count as wrong
                right += bool(record["correct"])
                errors += bool(record["error"])
                acc = f"{right}/{scored} = {100 * right / scored:.0f}%" if scored else "-"
                progress.update(bar, advance=1, description=f"accuracy {acc}, errors {errors}")
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/]: {len(out.records)} results kept in {out_path}; rerun with --resume"
        )
        return 130
    finally:
        results.close()  # stops the workers taking tasks (cancels Ray tasks in flight)
        out.close()
    summarise(out.records, out_path, console)
    return 0


def summarise(records: list[dict[str, Any]], out_path: Path, console: Console) -> None:
    n = len(records)
    right = sum(bool(r.get("correct")) for r in records)
    errors = sum(bool(r.get("error")) for r in records)
    pct = f"{100 * right / n:.1f}%" if n else "-"
    console.print(f"{n} results in {out_path}: {right} correct ({pct}), {errors} errors")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console(stderr=True)
    if args.retry_errors and not args.resume:
        console.print("[red]error[/]: --retry-errors needs --resume")
        return 2
    if args.resume and args.overwrite:
        console.print("[red]error[/]: --resume and --overwrite exclude each other")
        return 2
    if (
        args.concurrency < 1
        or args.task_timeout <= 0
        or args.max_steps < 1
        or args.samples < 1
        or args.recheck < 0
    ):
        console.print(
            "[red]error[/]: --concurrency, --max-steps and --samples must be >= 1, "
            "--recheck >= 0, --task-timeout > 0"
        )
        return 2
    try:
        return run(args, console)
    except (TaskFileError, FileExistsError, RuntimeError, ConnectionError) as exc:
        console.print(f"[red]error[/]: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
