"""Sandbox latency and throughput against baselines (`python -m benchmarks sandbox`).

Two workloads, a trivial `print(1)` and a pandas + matplotlib run that draws and captures a
figure, each timed end to end over N repeats for
- sandbox_fresh:   a new Sandbox per run (create, run, close), forked from the warm zygote,
- sandbox_session: one Sandbox reused (the notebook case),
- subprocess:      a plain `python -c CODE` per run (the figure saved to BytesIO),
- inprocess:       exec() in this process (the floor; modules stay imported).
Then executions per second with W worker threads, each with its own Sandbox.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

TRIVIAL = "print(1)\n"

# In the sandbox the patched backend captures the figure that plt.show() shows.
HEAVY_SANDBOX = """\
import pandas as pd
import matplotlib.pyplot as plt
df = pd.DataFrame({"x": range(20), "y": [v * v for v in range(20)]})
df.plot(x="x", y="y", title="squares")
plt.show()
print(int(df["y"].sum()))
"""

# Outside the sandbox the same work, capturing the figure by hand as PNG bytes.
HEAVY_PLAIN = """\
import io
import matplotlib
matplotlib.use("Agg")
import pandas as pd
import matplotlib.pyplot as plt
df = pd.DataFrame({"x": range(20), "y": [v * v for v in range(20)]})
df.plot(x="x", y="y", title="squares")
_buf = io.BytesIO()
plt.gcf().savefig(_buf, format="png")
plt.close("all")
print(int(df["y"].sum()))
"""

WORKLOADS: dict[str, tuple[str, str]] = {
    "trivial": (TRIVIAL, TRIVIAL),
    "pandas_matplotlib": (HEAVY_SANDBOX, HEAVY_PLAIN),
}
MODES = ("sandbox_fresh", "sandbox_session", "subprocess", "inprocess")
EXPECTED_STDOUT = {"trivial": "1", "pandas_matplotlib": "2470"}


class BenchError(RuntimeError):
    """A run did not produce the expected result, so its timing would be meaningless."""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 95),
        "min_ms": min(ms),
        "n": len(ms),
    }


def _check_sandbox(result: Any, workload: str) -> None:
    if result.verdict != "ok" or result.stdout.strip() != EXPECTED_STDOUT[workload]:
        raise BenchError(
            f"sandbox run of {workload} failed: verdict={result.verdict} "
            f"stdout={result.stdout[-200:]!r} error={result.error}"
        )
    if workload == "pandas_matplotlib" and len(result.figures) != 1:
        raise BenchError(f"expected 1 captured figure, got {len(result.figures)}")


def _time(fn: Callable[[], None], repeats: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def bench_sandbox_fresh(code: str, workload: str, repeats: int) -> list[float]:
    from sandbox import Sandbox

    def once() -> None:
        with Sandbox() as sb:
            _check_sandbox(sb.run(code), workload)

    return _time(once, repeats)


def bench_sandbox_session(code: str, workload: str, repeats: int) -> list[float]:
    from sandbox import Sandbox

    with Sandbox() as sb:
        return _time(lambda: _check_sandbox(sb.run(code), workload), repeats)


def bench_subprocess(code: str, workload: str, repeats: int) -> list[float]:
    env = {**os.environ, "MPLBACKEND": "Agg"}

    def once() -> None:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        if proc.returncode != 0 or proc.stdout.strip() != EXPECTED_STDOUT[workload]:
            raise BenchError(f"subprocess run of {workload} failed: {proc.stderr[-500:]}")

    return _time(once, repeats)


def bench_inprocess(code: str, workload: str, repeats: int) -> list[float]:
    compiled = compile(code, "<bench>", "exec")

    def once() -> None:
        out = io.StringIO()
        with redirect_stdout(out):
            exec(compiled, {"__name__": "__main__"})
        if out.getvalue().strip() != EXPECTED_STDOUT[workload]:
            raise BenchError(f"in-process run of {workload} printed {out.getvalue()!r}")

    return _time(once, repeats)


def throughput(code: str, workload: str, workers: int, duration_s: float) -> dict[str, float]:
    """Executions per second with `workers` threads, each running `code` in its own Sandbox."""
    from sandbox import Sandbox

    counts = [0] * workers
    errors: list[BaseException] = []
    window: list[float] = []  # [start, stop], set once by the barrier before anyone proceeds
    start = threading.Barrier(workers + 1, action=lambda: window.extend([time.perf_counter()] * 2))

    def worker(i: int) -> None:
        try:
            with Sandbox() as sb:
                _check_sandbox(sb.run(code), workload)  # warm the session
                start.wait()
                while time.perf_counter() < window[0] + duration_s:
                    _check_sandbox(sb.run(code), workload)
                    counts[i] += 1
        except BaseException as exc:
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for t in threads:
        t.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - window[0] if window else 0.0
    if errors:
        raise BenchError(f"throughput worker failed: {errors[0]!r}") from errors[0]
    total = sum(counts)
    return {"workers": workers, "executions": total, "seconds": elapsed, "per_s": total / elapsed}


BENCHES: dict[str, Callable[[str, str, int], list[float]]] = {
    "sandbox_fresh": bench_sandbox_fresh,
    "sandbox_session": bench_sandbox_session,
    "subprocess": bench_subprocess,
    "inprocess": bench_inprocess,
}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def run_benchmark(repeats: int, workers: int, duration_s: float) -> dict[str, Any]:
    latency: dict[str, dict[str, dict[str, float]]] = {}
    ratios: dict[str, dict[str, float | None]] = {}
    tput: dict[str, dict[str, float]] = {}
    for workload, (sandbox_code, plain_code) in WORKLOADS.items():
        latency[workload] = {}
        for mode in MODES:
            code = sandbox_code if mode.startswith("sandbox") else plain_code
            latency[workload][mode] = summarize(BENCHES[mode](code, workload, repeats))
        med = {mode: latency[workload][mode]["median_ms"] for mode in MODES}
        ratios[workload] = {
            "subprocess/sandbox_fresh": _ratio(med["subprocess"], med["sandbox_fresh"]),
            "subprocess/sandbox_session": _ratio(med["subprocess"], med["sandbox_session"]),
            "sandbox_fresh/inprocess": _ratio(med["sandbox_fresh"], med["inprocess"]),
            "sandbox_session/inprocess": _ratio(med["sandbox_session"], med["inprocess"]),
        }
        tput[workload] = throughput(sandbox_code, workload, workers, duration_s)
    return {
        "repeats": repeats,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "latency": latency,
        "ratios": ratios,
        "throughput": tput,
    }


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for workload, modes in report["latency"].items():
        table = Table(title=f"{workload}: end-to-end latency over {report['repeats']} runs")
        for col in ("mode", "median ms", "p95 ms", "min ms"):
            table.add_column(col, justify="left" if col == "mode" else "right")
        for mode, s in modes.items():
            table.add_row(mode, *(_ms(s[key]) for key in ("median_ms", "p95_ms", "min_ms")))
        console.print(table)
        ratio_text = ", ".join(
            f"{name} = {value:.1f}x" if value is not None else f"{name} = n/a"
            for name, value in report["ratios"][workload].items()
        )
        console.print(f"  ratios (medians): {ratio_text}")
        t = report["throughput"][workload]
        console.print(
            f"  throughput: {t['per_s']:.1f} executions/s with {t['workers']} workers "
            f"({t['executions']} in {t['seconds']:.1f} s)\n"
        )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks sandbox",
        description="Sandbox latency (median, p95) and throughput vs. subprocess and exec.",
    )
    p.add_argument("--repeats", type=int, default=30, help="timed runs per mode (default 30)")
    p.add_argument("--workers", type=int, default=2, help="threads for throughput (default 2)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds per throughput measurement")
    p.add_argument("--json", type=Path, metavar="PATH", help="also save the numbers as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeats < 1 or args.workers < 1 or args.duration <= 0:
        print("error: --repeats and --workers must be >= 1, --duration > 0", file=sys.stderr)
        return 2
    try:
        import sandbox  # noqa: F401
    except ImportError as exc:
        print(f"error: the sandbox is not importable: {exc}", file=sys.stderr)
        return 1
    try:
        report = run_benchmark(args.repeats, args.workers, args.duration)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
