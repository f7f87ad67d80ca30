"""Reports: the table's numbers, per-category accuracy, Markdown and the PNG plot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.report import main, markdown, rows


def record(i: int, suite: str, code: bool, correct: bool | None, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"{suite}-{i}",
        "suite": suite,
        "category": "a" if i % 2 else "b",
        "model": "local:1.5b",
        "code_execution": code,
        "final_answer": "1",
        "correct": correct,
        "steps": 2 if code else 1,
        "usage": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 20 + i,
            "toolUsePromptTokenCount": 50 if code else 0,
            "totalTokenCount": 0,
        },
        "duration_s": 1.5,
        "error": extra.get("error"),
    }


@pytest.fixture
def results(tmp_path: Path) -> list[Path]:
    code = [record(i, "equations", True, i < 9) for i in range(10)]  # 90 %
    nocode = [record(i, "equations", False, i < 4) for i in range(10)]  # 40 %
    nocode[9] = record(9, "equations", False, None, error="boom")
    paths = []
    for name, recs in (("code", code), ("nocode", nocode)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))
        paths.append(path)
    return paths


def test_rows_compute_accuracy_tokens_and_errors(results: list[Path]) -> None:
    from benchmarks.report import load

    by_mode = {r.code: r for r in rows(load(results))}
    assert by_mode[True].accuracy == pytest.approx(0.9)
    assert by_mode[False].accuracy == pytest.approx(0.4)
    assert by_mode[True].steps == 2 and by_mode[True].tool_use == 50
    assert by_mode[True].output == pytest.approx(24.5)
    assert by_mode[False].errors == 1 and by_mode[True].errors == 0
    assert "| equations | local:1.5b | yes | 10 | 90.0% |" in markdown(rows(load(results)))


def test_cli_table_by_category_and_plot(
    results: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "plot.png"
    assert main([*map(str, results), "--by-category", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "90.0%" in out and "40.0%" in out
    assert "Accuracy by category" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_cli_markdown(results: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*map(str, results), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| suite | model |") and "40.0%" in out


def test_missing_or_empty_results_are_clear_errors(tmp_path: Path) -> None:
    assert main([str(tmp_path / "nope.jsonl")]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main([str(empty)]) == 2


def test_misses_show_each_wrong_task_with_its_transcript(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right = record(1, "gsm", True, True)
    wrong = record(2, "gsm", True, False) | {
        "question": "How much profit in 20 weeks?",
        "expected": 448000,
        "final_answer": "450000",
        "transcript": [
            {"text": "The profit per week times 20."},
            {"executableCode": {"language": "PYTHON", "code": "print(22500 * 20)"}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "450000\n"}},
            {"text": "Final answer: 450000"},
        ],
    }
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(right) + "\n" + json.dumps(wrong) + "\n")
    assert main([str(path), "--misses"]) == 0
    out = capsys.readouterr().out
    assert "gsm-2" in out and "448000" in out and "How much profit in 20 weeks?" in out
    assert "print(22500 * 20)" in out and "OUTCOME_OK" in out and "Final answer: 450000" in out
    assert "gsm-1 (" not in out
    assert "1 of 2 tasks missed" in out
