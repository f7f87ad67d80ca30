"""The runner with the scripted backend: scoring, errors per task, resume after a real crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from benchmarks.__main__ import main as bench_main
from benchmarks.runner import default_out, main
from benchmarks.tasks import ids_in, load_suite, select

REPO = Path(__file__).resolve().parents[2]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def script(path: Path, turns: list[dict[str, Any]]) -> str:
    path.write_text(json.dumps({"turns": turns}))
    return f"scripted:{path}"


ECHO = [{"text": "Final answer: {question}"}]  # the model answers with the question's text


def echo_tasks(n: int, wrong_every: int = 3) -> list[dict[str, Any]]:
    """Questions are numbers; the reference answer is the same number except every k-th task."""
    return [
        {
            "id": f"t{i}",
            "question": str(10 + i),
            "answer": 10 + i if i % wrong_every else 999,
            "kind": "int",
            "category": "even" if i % 2 == 0 else "odd",
        }
        for i in range(n)
    ]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_scores_every_task_and_writes_the_contract_fields(tmp_path: Path) -> None:
    tasks = write_jsonl(tmp_path / "mine.jsonl", echo_tasks(9))
    out = tmp_path / "out.jsonl"
    model = script(tmp_path / "s.json", ECHO)
    code = main(
        [
            "--suite",
            str(tasks),
            "--model",
            model,
            "--no-code-execution",
            "--concurrency",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    records = read(out)
    assert sorted(r["id"] for r in records) == sorted(f"t{i}" for i in range(9))
    by_id = {r["id"]: r for r in records}
    for i in range(9):
        assert by_id[f"t{i}"]["correct"] is (i % 3 != 0)
        assert by_id[f"t{i}"]["final_answer"] == str(10 + i)
    r = records[0]
    for field in (
        "id",
        "suite",
        "category",
        "model",
        "code_execution",
        "final_answer",
        "correct",
        "steps",
        "usage",
        "duration_s",
        "error",
    ):
        assert field in r
    assert r["suite"] == "mine" and r["code_execution"] is False and r["error"] is None
    assert set(r["usage"]) == {
        "promptTokenCount",
        "candidatesTokenCount",
        "toolUsePromptTokenCount",
        "totalTokenCount",
    }


def test_errors_are_recorded_per_task_and_the_run_goes_on(tmp_path: Path) -> None:
    rows = echo_tasks(4)
    rows[1]["files"] = ["missing.csv"]
    tasks = write_jsonl(tmp_path / "t.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "--suite",
                str(tasks),
                "--model",
                script(tmp_path / "s.json", ECHO),
                "--no-code-execution",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    by_id = {r["id"]: r for r in read(out)}
    assert len(by_id) == 4
    assert "missing.csv" in by_id["t1"]["error"] and by_id["t1"]["correct"] is None
    assert by_id["t2"]["error"] is None and by_id["t2"]["correct"] is True

    out2 = tmp_path / "out2.jsonl"
    broken = script(tmp_path / "broken.json", [{"error": "backend exploded"}])
    assert (
        main(
            [
                "--suite",
                str(tasks),
                "--model",
                broken,
                "--no-code-execution",
                "--out",
                str(out2),
                "--quiet",
            ]
        )
        == 0
    )
    records = read(out2)
    assert len(records) == 4
    assert all(r["error"] for r in records)
    assert any("backend exploded" in r["error"] for r in records)
    assert all(r["correct"] is None for r in records)


def test_task_files_are_given_to_the_model(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "data.csv").write_text("a,b\n1,2\n")
    tasks = write_jsonl(
        tmp_path / "t.jsonl",
        [{"id": "f", "question": "sum?", "answer": 3, "kind": "int", "files": ["data.csv"]}],
    )
    model = script(tmp_path / "s.json", [{"text": "Final answer: 3"}])
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "--suite",
                str(tasks),
                "--model",
                model,
                "--no-code-execution",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    (record,) = read(out)
    assert record["error"] is None and record["correct"] is True


def test_existing_results_are_not_overwritten_by_accident(tmp_path: Path) -> None:
    tasks = write_jsonl(tmp_path / "t.jsonl", echo_tasks(2))
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "old"}\n')
    model = script(tmp_path / "s.json", ECHO)
    assert main(["--suite", str(tasks), "--model", model, "--out", str(out), "--quiet"]) == 2
    assert out.read_text() == '{"id": "old"}\n'
    assert (
        main(
            [
                "--suite",
                str(tasks),
                "--model",
                model,
                "--no-code-execution",
                "--out",
                str(out),
                "--overwrite",
                "--quiet",
            ]
        )
        == 0
    )
    assert [r["id"] for r in read(out)] == ["t0", "t1"]


def test_bad_task_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "q"}\nnot json\n')
    assert main(["--suite", str(bad), "--model", "local", "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main(["--suite", "no-such-suite", "--model", "local"]) == 2


def test_selection_category_sample_offset_limit() -> None:
    tasks = load_suite("text")
    letters = select(tasks, category="letter_counts")
    assert letters and all(t["category"] == "letter_counts" for t in letters)
    s1, s2 = select(tasks, sample=10, seed=3), select(tasks, sample=10, seed=3)
    assert [t["id"] for t in s1] == [t["id"] for t in s2] and len(s1) == 10
    assert select(tasks, sample=10, seed=4) != s1
    assert [t["id"] for t in select(tasks, offset=5, limit=3)] == [t["id"] for t in tasks[5:8]]
    both = load_suite("all")
    assert {t["suite"] for t in both} == {"equations", "text"}


def test_exclude_leaves_out_tuned_on_tasks_before_sampling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = load_suite("equations")
    seen = tmp_path / "seen.jsonl"
    seen.write_text(
        "".join(json.dumps({"id": t["id"], "correct": True}) + "\n" for t in tasks[:100])
    )
    fresh = select(tasks, sample=20, seed=4, exclude=ids_in([seen]))
    assert len(fresh) == 20
    assert not {t["id"] for t in fresh} & {t["id"] for t in tasks[:100]}
    strata = select(tasks, per_category=3, seed=4, exclude=ids_in([seen]))
    assert not {t["id"] for t in strata} & {t["id"] for t in tasks[:100]}
    left = Counter(t["category"] for t in tasks[100:])
    assert Counter(t["category"] for t in strata) == {c: min(3, n) for c, n in left.items()}
    assert strata == select(tasks, per_category=3, seed=4, exclude=ids_in([seen]))
    assert strata != select(tasks, per_category=3, seed=5, exclude=ids_in([seen]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "no id"}\n')
    out = str(tmp_path / "o.jsonl")
    assert main(["--suite", "equations", "--exclude", str(bad), "--out", out]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
    assert (
        main(["--suite", "equations", "--exclude", str(tmp_path / "nope.jsonl"), "--out", out]) == 2
    )
    assert not Path(out).exists()


def test_default_out_names_suite_model_and_mode() -> None:
    assert default_out("equations", "local:1.5b", True) == Path(
        "results/equations-local-1.5b-code.jsonl"
    )
    assert default_out("x/my.jsonl", "scripted:/a/b/s.json", False) == Path(
        "results/my-scripted-s-nocode.jsonl"
    )


def run_cli(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "benchmarks", "run", *args, "--quiet"]
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # as from a terminal: earlier tests (Ray) leave SIGINT ignored in pytest, and an ignored
        # SIGINT is inherited, so without this the child would never see the Ctrl-C
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_resume_after_a_crash_runs_every_task_exactly_once(tmp_path: Path) -> None:
    n = 8
    tasks = write_jsonl(tmp_path / "t.jsonl", echo_tasks(n))
    slow = script(tmp_path / "slow.json", [{"text": "Final answer: {question}", "delay_s": 0.4}])
    out = tmp_path / "out.jsonl"
    args = ["--suite", str(tasks), "--model", slow, "--no-code-execution", "--out", str(out)]
    proc = run_cli(args, tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if out.exists() and len(out.read_text().splitlines()) >= 3:
            break
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a real crash: no cleanup, no flush at exit
    proc.wait()
    done_before = {r["id"] for r in read(out)}
    assert 3 <= len(done_before) < n
    with open(out, "a") as fh:
        fh.write('{"id": "t7", "final_ans')  # a line torn by the crash

    proc = run_cli([*args, "--resume"], tmp_path)
    assert proc.wait(timeout=120) == 0, proc.stderr.read().decode() if proc.stderr else ""
    ids = [r["id"] for r in read(out)]
    assert sorted(ids) == sorted(f"t{i}" for i in range(n))  # every id exactly once
    assert ids[: len(done_before)] == [r for r in ids if r in done_before]  # old lines kept first


def test_retry_errors_redoes_only_failed_tasks(tmp_path: Path) -> None:
    tasks = write_jsonl(tmp_path / "t.jsonl", echo_tasks(3))
    out = tmp_path / "out.jsonl"
    broken = script(tmp_path / "b.json", [{"error": "down"}])
    base = ["--suite", str(tasks), "--no-code-execution", "--out", str(out), "--quiet"]
    assert main([*base, "--model", broken]) == 0
    assert all(r["error"] for r in read(out))
    assert (
        main([*base, "--model", script(tmp_path / "ok.json", ECHO), "--resume", "--retry-errors"])
        == 0
    )
    records = read(out)
    assert len(records) == 3 and not any(r["error"] for r in records)


def test_with_code_execution_in_the_real_sandbox(tmp_path: Path) -> None:
    tasks = write_jsonl(
        tmp_path / "t.jsonl", [{"id": "c", "question": "21", "answer": 42, "kind": "int"}]
    )
    model = script(
        tmp_path / "s.json",
        [{"text": "Computing.", "code": "print({question} * 2)"}, {"text": "Final answer: 42"}],
    )
    out = tmp_path / "out.jsonl"
    assert main(["--suite", str(tasks), "--model", model, "--out", str(out), "--quiet"]) == 0
    (record,) = read(out)
    assert record["error"] is None, record["error"]
    assert record["code_execution"] is True and record["steps"] == 2 and record["correct"] is True
    assert record["usage"]["toolUsePromptTokenCount"] > 0


def test_cli_dispatch(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main([]) == 2
    assert "sandbox" in capsys.readouterr().out
    assert bench_main(["frobnicate"]) == 2
    with pytest.raises(SystemExit) as exc:
        bench_main(["run", "--help"])
    assert exc.value.code == 0
    assert "--resume" in capsys.readouterr().out


def test_ctrl_c_keeps_the_results_and_says_how_to_resume(tmp_path: Path) -> None:
    tasks = write_jsonl(tmp_path / "t.jsonl", echo_tasks(20))
    slow = script(tmp_path / "slow.json", [{"text": "Final answer: {question}", "delay_s": 0.3}])
    out = tmp_path / "out.jsonl"
    proc = run_cli(
        ["--suite", str(tasks), "--model", slow, "--no-code-execution", "--out", str(out)], tmp_path
    )
    deadline = time.monotonic() + 120
    while not (out.exists() and len(out.read_text().splitlines()) >= 2):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert "--resume" in (proc.stderr.read().decode() if proc.stderr else "")
    kept = read(out)
    assert 2 <= len(kept) < 20 and len({r["id"] for r in kept}) == len(kept)
