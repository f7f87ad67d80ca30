"""The --ray path on a local Ray instance (two CPUs), with the scripted backend."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.runner import main

ray = pytest.importorskip("ray")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # workers import benchmarks/agent from this checkout, wherever Ray starts them
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_run_scores_every_task_once(local_ray: None, tmp_path: Path) -> None:
    rows = [
        {"id": f"r{i}", "question": str(100 + i), "answer": 100 + i if i != 2 else 0, "kind": "int"}
        for i in range(6)
    ]
    tasks = tmp_path / "t.jsonl"
    tasks.write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "Final answer: {question}"}]))
    out = tmp_path / "out.jsonl"
    args = ["--suite", str(tasks), "--model", f"scripted:{script}", "--no-code-execution"]
    assert main([*args, "--out", str(out), "--ray", "auto", "--quiet"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [f"r{i}" for i in range(6)]
    assert all(r["error"] is None for r in records), records
    assert {r["id"] for r in records if r["correct"]} == {f"r{i}" for i in range(6)} - {"r2"}

    # with code execution: each Ray task opens its own sandbox
    code_script = tmp_path / "code.json"
    turns = [{"text": "", "code": "print({question})"}, {"text": "Final answer: {question}"}]
    code_script.write_text(json.dumps(turns))
    out2 = tmp_path / "out2.jsonl"
    args = ["--suite", str(tasks), "--model", f"scripted:{code_script}", "--limit", "2"]
    assert main([*args, "--out", str(out2), "--ray", "auto", "--quiet"]) == 0
    records = [json.loads(line) for line in out2.read_text().splitlines()]
    assert len(records) == 2 and all(r["correct"] and r["steps"] == 2 for r in records), records
