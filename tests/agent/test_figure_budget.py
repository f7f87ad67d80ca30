"""One request cannot pile up figures: a per-request budget on count and bytes, the model told."""

from __future__ import annotations

import base64

from agent.figure_budget import FigureBudget
from sandbox.limits import Limits
from sandbox.result import ExecutionResult, Figure


def _result(n: int, size: int) -> ExecutionResult:
    data = base64.b64encode(b"\x89PNG" + b"x" * (size - 4)).decode()
    return ExecutionResult.make("ok", stdout="drew\n", figures=[Figure(data=data)] * n)


class _FakeSandbox:
    def __init__(self, n: int, size: int) -> None:
        self.n, self.size, self.closed = n, size, False

    def run(self, code: str, timeout_s: float | None = None) -> ExecutionResult:
        return _result(self.n, self.size)

    def close(self) -> None:
        self.closed = True


def test_twenty_figures_a_run_for_many_runs_stay_within_the_request_budget() -> None:
    sandbox = FigureBudget(max_figures=8, max_bytes=16 << 20).wrap(_FakeSandbox(20, 1 << 20))
    kept = 0
    notes = []
    for _ in range(10):
        r = sandbox.run("plot()", timeout_s=5)
        kept += len(r.figures)
        notes.append(r.stderr)
    assert kept == 8
    assert notes[0].startswith("[12 figure(s) not shown: this request's figure limit")
    assert all("not shown" in n for n in notes)
    sandbox.close()
    assert sandbox._sandbox.closed


def test_the_byte_budget_drops_big_figures_and_keeps_small_ones() -> None:
    budget = FigureBudget(max_figures=100, max_bytes=10 << 20)
    big = budget.admit(_result(3, 4 << 20))
    assert len(big.figures) == 2 and "1 figure(s) not shown" in big.stderr
    assert big.stdout == "drew\n" and big.verdict == "ok"
    small = budget.admit(_result(1, 1 << 20))
    assert len(small.figures) == 1 and small.stderr == ""
    assert budget.bytes <= 10 << 20 and budget.dropped == 1


def test_the_budget_is_configurable(monkeypatch) -> None:
    monkeypatch.setenv("CODEXEC_MAX_REQUEST_FIGURES", "2")
    monkeypatch.setenv("CODEXEC_MAX_REQUEST_FIGURE_MB", "1.5")
    budget = FigureBudget.from_env()
    assert (budget.max_figures, budget.max_bytes) == (2, int(1.5 * 2**20))
    assert FigureBudget().max_figures == 8


def test_a_runs_own_figure_caps_are_smaller_by_default() -> None:
    limits = Limits()
    assert limits.max_figures == 8 and limits.max_figures_total_bytes <= 16_000_000


def test_a_real_run_drawing_twenty_figures_returns_at_most_the_caps() -> None:
    from sandbox import Sandbox

    code = (
        "import matplotlib.pyplot as plt\n"
        "for i in range(20):\n    plt.figure(); plt.plot([1, i]); plt.show()\n"
    )
    with Sandbox() as sb:
        r = FigureBudget(max_figures=5).admit(sb.run(code))
    assert len(r.figures) == 5
    assert "12 figure(s) dropped: at most 8 per run" in r.stderr and "not shown" in r.stderr
