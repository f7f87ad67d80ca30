"""Speed of the embedded model: `python -m benchmarks model [--model local] [--repeats 3]`.

- server: the same questions sent to our HTTP server one after another and then all at once
  (2 and 4), medians over the repeats, with continuous batching on (the default of `serve`) or
  off (`--no-batching`); the answers of the concurrent rounds are compared with the sequential
  ones.
- cli: `python -m agent solve` end to end, a new process each time (after one warm-up run
  that leaves the prompt prefix's state in the cache directory), medians over the repeats, with
  the model calls' prompt and generation seconds from `--json`'s `speed`.
- first token: in the server, the seconds to a streamed solve's first text after a solve with
  code, a request without code, or one with another system instruction (medians).
- decode: tokens/s of our local backend against llama-cpp-python's own completion on the same
  GGUF and threads (the floor), the same prompt, greedy, one after the other.
Runs everything in this process; the machine should be otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

QUESTIONS = [
    "How many times does the letter r occur in strawberry?",
    "What is 17 * 23 + 4?",
    "What is the sum of the integers from 1 to 100?",
    "How many days are there from 2024-01-01 to 2024-03-01?",
]


def _solve(url: str, model: str, question: str) -> tuple[str, float]:
    import httpx

    body = {"contents": [{"parts": [{"text": question}]}], "tools": [{"codeExecution": {}}]}
    start = time.perf_counter()
    r = httpx.post(f"{url}/v1beta/models/{model}:generateContent", json=body, timeout=900)
    r.raise_for_status()
    from agent.answer import extract_final_answer

    parts = r.json()["candidates"][0]["content"]["parts"]  # Gemini's JSON: no finalAnswer
    text = "".join(p.get("text", "") for p in parts)
    return extract_final_answer(text), time.perf_counter() - start


def _round(url: str, model: str, questions: list[str], together: bool) -> tuple[list[str], float]:
    start = time.perf_counter()
    if together:
        with ThreadPoolExecutor(len(questions)) as pool:
            answers = [a for a, _ in pool.map(lambda q: _solve(url, model, q), questions)]
    else:
        answers = [_solve(url, model, q)[0] for q in questions]
    return answers, time.perf_counter() - start


def server_rows(spec: str, repeats: int, batching: bool) -> list[str]:
    from agent.server.background import serve_in_thread
    from agent.server.config import ServerConfig

    config = ServerConfig(aliases={"m": spec}, max_concurrency=4, batching=batching)
    rows = []
    with serve_in_thread(config) as server:
        _solve(server.url, "m", "What is 2 + 2?")  # loads the model and its prompt prefix
        for n in (2, 4):
            questions = QUESTIONS[:n]
            alone, together, same = [], [], 0
            for _ in range(repeats):
                answers, seconds = _round(server.url, "m", questions, together=False)
                alone.append(seconds)
                answers_together, seconds = _round(server.url, "m", questions, together=True)
                together.append(seconds)
                same += sum(a == b for a, b in zip(answers, answers_together, strict=True))
            a, t = statistics.median(alone), statistics.median(together)
            rows.append(
                f"| {'on' if batching else 'off'} | {n} | {a:.1f} | {t:.1f} | {t / a:.2f} "
                f"| {same}/{n * repeats} |"
            )
    return rows


BEFORE: dict[str, dict[str, Any]] = {
    "a solve with code": {"tools": [{"codeExecution": {}}]},
    "a request without code": {},
    "another system instruction": {
        "systemInstruction": {"parts": [{"text": "You are a terse assistant."}]}
    },
}


def _first_token_s(url: str, model: str, question: str) -> float:
    """Seconds from sending a streamed solve with code execution to its first text event."""
    import httpx

    body = {"contents": [{"parts": [{"text": question}]}], "tools": [{"codeExecution": {}}]}
    start = time.perf_counter()
    address = f"{url}/v1beta/models/{model}:streamGenerateContent?alt=sse"
    with httpx.stream("POST", address, json=body, timeout=900) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data:") and '"text"' in line:
                return time.perf_counter() - start
    raise RuntimeError("the stream ended without text")


def first_token_rows(spec: str, repeats: int, batching: bool) -> list[str]:
    """The first token of a solve in the server after each kind of request (issue 17: within
    1 s of the model being loaded, whatever request came before)."""
    import httpx

    from agent.server.background import serve_in_thread
    from agent.server.config import ServerConfig

    config = ServerConfig(aliases={"m": spec}, max_concurrency=4, batching=batching)
    rows = []
    with serve_in_thread(config) as server:
        _solve(server.url, "m", "What is 2 + 2?")  # loads the model and its prompt prefix
        for name, extra in BEFORE.items():
            seconds = []
            for i in range(repeats):
                body = {"contents": [{"parts": [{"text": f"Name a colour. ({i})"}]}], **extra}
                address = f"{server.url}/v1beta/models/m:generateContent"
                httpx.post(address, json=body, timeout=900).raise_for_status()
                seconds.append(_first_token_s(server.url, "m", QUESTIONS[i % len(QUESTIONS)]))
            rows.append(
                f"| {'on' if batching else 'off'} | {name} | {statistics.median(seconds):.2f} "
                f"| {max(seconds):.2f} |"
            )
    return rows


def cli_rows(spec: str, repeats: int, question: str = QUESTIONS[0]) -> list[str]:
    command = [sys.executable, "-m", "agent", "solve", question, "--model", spec, "--json"]
    walls, prompts, generates, answers = [], [], [], []
    for i in range(repeats + 1):
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"solve failed: {proc.stderr[-500:]}")
        data = json.loads(proc.stdout)
        if i == 0:
            continue  # the warm-up: loads the weights into the page cache, saves the prefix
        speed = data.get("speed") or {}
        walls.append(wall)
        prompts.append(speed.get("promptSeconds", 0.0))
        generates.append(speed.get("generateSeconds", 0.0))
        answers.append(str(data.get("finalAnswer", "")))
    med = statistics.median
    return [
        f"| {question} | {med(walls):.1f} | {min(walls):.1f} | {med(prompts):.2f} "
        f"| {med(generates):.1f} | {', '.join(sorted(set(answers)))} |"
    ]


SOLVE_QUESTION = (
    "A shop sells pens at 3 for $2. Ann buys 27 pens and pays with a $50 note. How much change "
    "does she get?"
)


def decode_rows(size: str, tokens: int) -> list[str]:
    """Our backend's tokens/s against llama_cpp's own completion on the same GGUF and threads,
    greedy, for a plain prompt and for a solve's first call (system prompt, worked examples and
    a question, which every solve's generation attends over)."""
    from llama_cpp import Llama

    from agent.models.base import GenerateOptions
    from agent.models.local import LocalModel, local_strategy
    from agent.models.local_runtime import N_CTX, _threads
    from agent.parts import Message
    from agent.weights import model_path

    story = "Write a long story about a lighthouse keeper. Do not write any code."
    solve = local_strategy().prompt([Message.user(SOLVE_QUESTION)], code_execution=True)
    cases = [
        ("plain prompt", "", [Message.user(story)], False, 0),
        ("solve prompt", solve.system, solve.history, True, solve.shared),
    ]
    ours = LocalModel(size)
    floor = Llama(
        model_path=str(model_path(size)), n_ctx=N_CTX, n_threads=_threads(), verbose=False
    )
    warm = GenerateOptions(max_output_tokens=8)
    ours.generate("", [Message.user("Hi")], code_execution=False, options=warm)
    rows = []
    for name, system, history, code, shared in cases:
        options = GenerateOptions(max_output_tokens=tokens, shared_prefix=shared)
        ours.generate(system, history, code_execution=code, options=warm)  # its prompt cached
        ours.generate(system, history, code_execution=code, options=options)
        mine = ours.last_stats
        text = ours.render(system, history)
        floor.create_completion(text, max_tokens=1, temperature=0.0)  # its prompt cached
        first: float | None = None
        n = 0
        stream = floor.create_completion(
            text, max_tokens=mine.output_tokens, temperature=0.0, repeat_penalty=1.0, stream=True
        )
        for _ in stream:
            first = first or time.perf_counter()
            n += 1
        end = time.perf_counter()
        theirs = n / (end - first) if first is not None and end > first else 0.0
        rows += [
            f"| {name} | ours (agent.models.local) | {mine.output_tokens} | {mine.tokens_per_s:.1f} |",
            f"| {name} | llama-cpp-python completion | {n} | {theirs:.1f} |",
        ]
    return rows


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks model", description=__doc__.split("\n")[0]
    )
    p.add_argument("--model", default="local", help="local, local:0.5b (local)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-batching", dest="batching", action="store_false")
    p.add_argument("--skip-decode", action="store_true", help="no decode-speed rows")
    p.add_argument("--skip-server", action="store_true", help="no server rounds")
    p.add_argument("--skip-cli", action="store_true", help="no one-shot CLI rows")
    p.add_argument("--skip-first-token", action="store_true", help="no server first-token rows")
    p.add_argument("--tokens", type=int, default=128, help="tokens generated for decode speed")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeats < 1:
        print("--repeats must be >= 1", file=sys.stderr)
        return 2
    # before the model loads: its context is made for batching
    os.environ["CODEXEC_BATCHING"] = "1" if args.batching else "0"
    size = args.model.partition(":")[2] or "1.5b"
    print(f"{args.model}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    if not args.skip_cli:
        print("\n| solve (new process) | median s | best s | prompt s | generate s | answers |")
        print("|---|---:|---:|---:|---:|---|")
        for row in cli_rows(args.model, args.repeats):
            print(row, flush=True)
    if not args.skip_server:
        print(
            "\n| batching | questions | one after another s | all at once s | ratio | same answers |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for row in server_rows(args.model, args.repeats, args.batching):
            print(row, flush=True)
    if not args.skip_first_token:
        print("\n| batching | request before | first token s (median) | worst s |")
        print("|---|---|---:|---:|")
        for row in first_token_rows(args.model, args.repeats, args.batching):
            print(row, flush=True)
    if not args.skip_decode:
        print("\n| prompt | decoder | tokens | tokens/s |\n|---|---|---:|---:|")
        for row in decode_rows(size, args.tokens):
            print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
