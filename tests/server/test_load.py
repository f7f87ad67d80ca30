"""Many concurrent requests: none lost, none mixed up (scripted model, real sandboxes)."""

from __future__ import annotations

import asyncio
import json

from benchmarks.server_load import TURNS, check_answer, expected_output, main, run_load

N = 50


def test_50_concurrent_requests_none_lost_none_mixed(start_server, script) -> None:
    server = start_server(aliases={"load": script(TURNS)}, max_concurrency=8, queue_size=N)
    outcomes, _wall = asyncio.run(run_load(server.url, "load", N, N, stream_every=2))
    assert len(outcomes) == N
    assert len({o.question for o in outcomes}) == N
    failed = [(o.question, o.detail) for o in outcomes if not o.ok]
    assert failed == []
    assert server.app.state.pool.admitted == 0


def test_the_answer_check_catches_a_mix_up() -> None:
    mine, other = "q1-aaaa", "q2-bbbb"
    good = [
        {"executableCode": {"code": "..."}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": expected_output(mine) + "\n"}},
        {"text": f"Final answer: {mine} done"},
    ]
    assert check_answer(mine, good) == ""
    assert check_answer(other, good) != ""
    swapped = [*good[:2], {"text": f"Final answer: {other} done"}]
    assert check_answer(mine, swapped) != ""
    assert json.dumps(TURNS).count("{question}") >= 2


def test_benchmark_script_prints_a_table(capsys) -> None:
    assert main(["--requests", "4", "--concurrency", "4", "--server-concurrency", "2"]) == 0
    out = capsys.readouterr().out
    assert "req/s" in out and "p95" in out
    row = out.strip().splitlines()[-1].split("|")
    assert row[1].strip() == "4" and row[4].strip() == "4"  # 4 requests, 4 ok
