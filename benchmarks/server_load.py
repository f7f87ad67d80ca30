"""Load test of the Gemini-compatible HTTP server: N concurrent requests, scripted model, real sandbox.

    python -m benchmarks.server_load [--requests 50] [--concurrency 50] [--server-concurrency 4]
                                     [--stream-every 2] [--url URL --model NAME]

Each request asks a distinct question; the scripted model's code prints a value derived from it,
so every answer can be checked against its own question (nothing lost, nothing mixed up).
Prints a table: requests/s and latency percentiles. Without --url it starts its own server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

# The model's code: a value only this question gives.
CODE = "q = '{question}'\nprint(q[::-1].upper(), sum(map(ord, q)))"
TURNS = [
    {"text": "Computing for {question}.", "code": CODE},
    {"text": "Final answer: {question} done"},
]


def expected_output(question: str) -> str:
    return f"{question[::-1].upper()} {sum(map(ord, question))}"


@dataclass
class Outcome:
    question: str
    latency_s: float
    ok: bool
    detail: str = ""


def check_answer(question: str, parts: list[dict[str, Any]]) -> str:
    """'' if the parts answer this question; else what is wrong."""
    results = [p["codeExecutionResult"] for p in parts if "codeExecutionResult" in p]
    # stdout's first line: sandbox notes on stderr may follow it
    outputs = [(r.get("output") or "").strip().split("\n", 1)[0] for r in results]
    text = "".join(p.get("text", "") for p in parts)
    if outputs != [expected_output(question)]:
        return f"wrong output {outputs!r}"
    if f"Final answer: {question} done" not in text:
        return f"wrong text {text[-80:]!r}"
    return ""


def _parts_from_sse(body: str) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for line in body.splitlines():
        if line.startswith("data: "):
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise ValueError(chunk["error"]["message"])
            content = chunk["candidates"][0].get("content") or {}
            parts.extend(content.get("parts", []))
    return parts


async def one_request(
    client: httpx.AsyncClient, url: str, model: str, question: str, stream: bool
) -> Outcome:
    body = {
        "contents": [{"role": "user", "parts": [{"text": question}]}],
        "tools": [{"codeExecution": {}}],
    }
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    start = time.perf_counter()
    try:
        response = await client.post(f"{url}/v1beta/models/{model}:{method}", json=body)
        latency = time.perf_counter() - start
        if response.status_code != 200:
            return Outcome(
                question, latency, False, f"HTTP {response.status_code}: {response.text[:200]}"
            )
        if stream:
            parts = _parts_from_sse(response.text)
        else:
            parts = response.json()["candidates"][0]["content"]["parts"]
        problem = check_answer(question, parts)
        return Outcome(question, latency, not problem, problem)
    except (httpx.HTTPError, ValueError, KeyError) as e:
        return Outcome(question, time.perf_counter() - start, False, f"{type(e).__name__}: {e}")


async def run_load(
    url: str, model: str, requests: int, concurrency: int, stream_every: int = 0
) -> tuple[list[Outcome], float]:
    """Send `requests` requests, `concurrency` at a time; (outcomes, wall seconds)."""
    async with httpx.AsyncClient(timeout=600.0) as client:  # not timed: starts the sandbox
        await one_request(client, url, model, "warm-up", stream=False)
    limit = asyncio.Semaphore(concurrency)
    questions = [f"q{i}-{uuid.uuid4().hex[:8]}" for i in range(requests)]
    timeout = httpx.Timeout(600.0)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def limited(i: int, question: str) -> Outcome:
            async with limit:
                stream = bool(stream_every) and i % stream_every == 0
                return await one_request(client, url, model, question, stream)

        start = time.perf_counter()
        outcomes = await asyncio.gather(*(limited(i, q) for i, q in enumerate(questions)))
        return list(outcomes), time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def table(outcomes: list[Outcome], wall_s: float, concurrency: int, server_concurrency: str) -> str:
    latencies = sorted(o.latency_s for o in outcomes)
    ok = sum(o.ok for o in outcomes)
    header = "| requests | client concurrency | server concurrency | ok | failed | wall s | req/s | p50 s | p95 s | max s |"
    row = (
        f"| {len(outcomes)} | {concurrency} | {server_concurrency} | {ok} | {len(outcomes) - ok} "
        f"| {wall_s:.2f} | {len(outcomes) / wall_s:.2f} | {percentile(latencies, 50):.2f} "
        f"| {percentile(latencies, 95):.2f} | {latencies[-1]:.2f} |"
    )
    return "\n".join([header, "|" + "---|" * 10, row])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.server_load", description=__doc__.split("\n")[0]
    )
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=50, help="requests in flight from the client")
    p.add_argument(
        "--server-concurrency", type=int, default=4, help="runs at once in our own server"
    )
    p.add_argument(
        "--stream-every", type=int, default=2, help="every k-th request streams (0: none)"
    )
    p.add_argument("--url", help="an already running server (default: start one here)")
    p.add_argument("--model", help="model name on --url (a scripted spec or alias using TURNS)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.requests < 1 or args.concurrency < 1:
        print("--requests and --concurrency must be >= 1", file=sys.stderr)
        return 2
    if args.url:
        if not args.model:
            print("--url needs --model", file=sys.stderr)
            return 2
        outcomes, wall = asyncio.run(
            run_load(args.url, args.model, args.requests, args.concurrency, args.stream_every)
        )
        server_concurrency = "?"
    else:
        from agent.server.background import serve_in_thread
        from agent.server.config import ServerConfig

        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "turns.json"
            script.write_text(json.dumps({"turns": TURNS}))
            config = ServerConfig(
                aliases={"load": f"scripted:{script}"},
                max_concurrency=args.server_concurrency,
                queue_size=max(args.requests, 64),
            )
            with serve_in_thread(config) as server:
                outcomes, wall = asyncio.run(
                    run_load(server.url, "load", args.requests, args.concurrency, args.stream_every)
                )
        server_concurrency = str(args.server_concurrency)
    print(table(outcomes, wall, args.concurrency, server_concurrency))
    failed = [o for o in outcomes if not o.ok]
    for o in failed[:5]:
        print(f"FAILED {o.question}: {o.detail}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
