"""benchmarks.sandbox_perf: output structure with a tiny run (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import sandbox_perf

ROOT = Path(__file__).resolve().parents[2]


def test_percentile_and_summary() -> None:
    values = [float(v) for v in range(1, 101)]
    assert sandbox_perf.percentile(values, 95) == 95.0
    assert sandbox_perf.percentile(values, 50) == 50.0
    assert sandbox_perf.percentile([3.0], 95) == 3.0
    s = sandbox_perf.summarize([0.001, 0.003, 0.002])
    assert s["n"] == 3
    assert s["median_ms"] == pytest.approx(2.0)
    assert s["p95_ms"] == pytest.approx(3.0)
    assert s["min_ms"] == pytest.approx(1.0)


def test_bad_arguments() -> None:
    assert sandbox_perf.main(["--repeats", "0"]) == 2
    with pytest.raises(SystemExit):
        sandbox_perf.main(["--no-such-flag"])


def test_baselines_run_the_same_work() -> None:
    """The plain (subprocess / exec) version of each workload really runs and prints its
    expected value, so the comparison is like for like."""
    for name, (_, plain) in sandbox_perf.WORKLOADS.items():
        assert len(sandbox_perf.bench_inprocess(plain, name, 1)) == 1
    assert len(sandbox_perf.bench_subprocess(sandbox_perf.TRIVIAL, "trivial", 1)) == 1
    with pytest.raises(sandbox_perf.BenchError):
        sandbox_perf.bench_inprocess("print(2)", "trivial", 1)


@pytest.mark.slow
def test_full_run_structure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sandbox", reason="sandbox runtime not importable")
    out = tmp_path / "perf.json"
    rc = sandbox_perf.main(["--repeats", "2", "--duration", "0.5", "--json", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["repeats"] == 2
    assert set(report["latency"]) == {"trivial", "pandas_matplotlib"}
    for workload, modes in report["latency"].items():
        assert set(modes) == set(sandbox_perf.MODES)
        for stats in modes.values():
            assert stats["n"] == 2
            assert 0 < stats["min_ms"] <= stats["median_ms"] <= stats["p95_ms"]
        ratios = report["ratios"][workload]
        assert set(ratios) == {
            "subprocess/sandbox_fresh",
            "subprocess/sandbox_session",
            "sandbox_fresh/inprocess",
            "sandbox_session/inprocess",
        }
        assert all(v is None or v > 0 for v in ratios.values())
        tput = report["throughput"][workload]
        assert tput["workers"] == 2 and tput["executions"] >= 0 and tput["per_s"] >= 0
    assert "executions/s" in printed and "p95" in printed


def test_module_entry_point_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.sandbox_perf", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--repeats" in proc.stdout and "--json" in proc.stdout
