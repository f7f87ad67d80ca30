"""Running tasks: one solve per task, on local threads or as Ray tasks, results as they finish.

`solve_task` is the unit of work in both paths. It never raises: a failure becomes the record's
"error", so one bad task cannot stop a run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator
from typing import Any

Task = dict[str, Any]
Raw = dict[str, Any]
EMPTY_USAGE = {
    "promptTokenCount": 0,
    "candidatesTokenCount": 0,
    "toolUsePromptTokenCount": 0,
    "totalTokenCount": 0,
}


def solve_task(
    question: str,
    model: str,
    code_execution: bool,
    time_budget_s: float,
    files: list[tuple[str, bytes]],
    max_steps: int = 10,
    samples: int = 1,
    recheck: int = 4,
    crosscheck: bool = False,
    strategy: str | None = None,
) -> Raw:
    """Solve one question; what came out, or the error that stopped it."""
    start = time.monotonic()
    try:
        from agent import InputFile, solve

        inputs = [InputFile(name=name, data=data) for name, data in files]
        r = solve(
            question,
            model=model,
            files=inputs,
            code_execution=code_execution,
            time_budget_s=time_budget_s,
            max_steps=max_steps,
            samples=samples,
            recheck=recheck,
            crosscheck=crosscheck,
            strategy=strategy,
        )
        return {
            "final_answer": r.final_answer,
            "steps": r.steps,
            "usage": r.usage.to_gemini(),
            "duration_s": round(r.duration_s, 3),
            "finish_reason": r.finish_reason,
            "error": r.error,
            "samples": r.samples,
            "transcript": transcript(r.parts),
        }
    except Exception as exc:  # recorded per task; the run goes on
        return failed(f"{type(exc).__name__}: {exc}", time.monotonic() - start)


def transcript(parts: list[Any]) -> list[dict[str, Any]]:
    """The solve's parts as Gemini JSON, figures reduced to their size (results stay small)."""
    from agent.parts import part_to_gemini

    out = []
    for part in parts:
        item = part_to_gemini(part)
        if "inlineData" in item:
            data = item["inlineData"].get("data", "")
            item = {
                "inlineData": {
                    "mimeType": item["inlineData"].get("mimeType"),
                    "bytes": len(data) * 3 // 4,
                }
            }
        out.append(item)
    return out


def failed(error: str, duration_s: float = 0.0) -> Raw:
    return {
        "final_answer": None,
        "steps": 0,
        "usage": dict(EMPTY_USAGE),
        "duration_s": round(duration_s, 3),
        "finish_reason": "ERROR",
        "error": error,
    }


Job = tuple[Task, tuple[Any, ...]]  # a task and the arguments of solve_task for it


def run_threads(jobs: list[Job], concurrency: int) -> Generator[tuple[Task, Raw], None, None]:
    """Results in completion order. Workers are daemon threads, so Ctrl-C exits at once."""
    pending: queue.Queue[Job] = queue.Queue()
    for job in jobs:
        pending.put(job)
    finished: queue.Queue[tuple[Task, Raw]] = queue.Queue()

    def worker() -> None:
        while True:
            try:
                task, args = pending.get_nowait()
            except queue.Empty:
                return
            try:
                raw = solve_task(*args)
            except BaseException as exc:  # never leave the consumer waiting for a result
                raw = failed(f"{type(exc).__name__}: {exc}")
            finished.put((task, raw))

    for k in range(max(1, min(concurrency, len(jobs)))):
        threading.Thread(target=worker, name=f"bench-worker-{k}", daemon=True).start()
    try:
        for _ in range(len(jobs)):
            yield finished.get()
    finally:
        while True:  # stop the workers from taking more tasks
            try:
                pending.get_nowait()
            except queue.Empty:
                break


def connect_ray(address: str) -> Any:
    """Join the cluster at `address`; `auto` joins a running local one or starts one."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs Ray: pip install 'codexec[ray]'") from None
    if not ray.is_initialized():
        if address == "auto":
            try:
                ray.init(address="auto", log_to_driver=False)
            except ConnectionError:
                ray.init(include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    return ray


def run_ray(
    jobs: list[Job], address: str, concurrency: int
) -> Generator[tuple[Task, Raw], None, None]:
    """Each task runs as a Ray task (its own sandbox, on whichever node has a free CPU)."""
    ray = connect_ray(address)
    remote = ray.remote(num_cpus=1, max_retries=1)(solve_task)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    window = max(concurrency, cpus) * 2  # enough in flight to keep every CPU busy
    todo = iter(jobs)
    in_flight: dict[Any, Task] = {}

    def submit() -> None:
        for task, args in todo:
            in_flight[remote.remote(*args)] = task
            if len(in_flight) >= window:
                return

    submit()
    try:
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            task = in_flight.pop(ref)
            try:
                raw = ray.get(ref)
            except Exception as exc:  # the worker died, or Ray failed the task
                raw = failed(f"{type(exc).__name__}: {exc}")
            yield task, raw
            submit()
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)
