"""A per-request (per-solve) budget for figures: how many, and how many bytes in all.

Each sandbox run already caps its own figures (sandbox.Limits: max_figures, max_figure_bytes,
max_figures_total_bytes); a solve has many runs, and every figure stays in the history, the
response and the server's memory. The loop wraps its sandbox once:

    budget = FigureBudget.from_env()
    sandbox = budget.wrap(open_sandbox(...))

and every `sandbox.run(...)` then returns only the figures that still fit; the dropped ones are
announced in the run's stderr, so the model (and the user) is told.
Defaults: 8 figures and 16 MiB (of PNG bytes) per request; CODEXEC_MAX_REQUEST_FIGURES and
CODEXEC_MAX_REQUEST_FIGURE_MB change them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.execute import CodeSandbox
    from sandbox import ExecutionResult, FileInfo

DEFAULT_MAX_FIGURES = 8
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


class FigureBudget:
    def __init__(
        self, max_figures: int = DEFAULT_MAX_FIGURES, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.max_figures = max_figures
        self.max_bytes = max_bytes
        self.figures = 0
        self.bytes = 0
        self.dropped = 0

    @classmethod
    def from_env(cls) -> FigureBudget:
        figures = int(_env_number("CODEXEC_MAX_REQUEST_FIGURES", DEFAULT_MAX_FIGURES))
        mb = _env_number("CODEXEC_MAX_REQUEST_FIGURE_MB", DEFAULT_MAX_BYTES / 2**20)
        return cls(figures, int(mb * 2**20))

    def admit(self, result: Any) -> Any:
        """The sandbox ExecutionResult with only the figures within the budget (a copy if any
        were dropped, with a note in its stderr)."""
        kept = []
        dropped = 0
        for figure in result.figures:
            size = len(figure.data) * 3 // 4  # base64 -> bytes
            if self.figures < self.max_figures and self.bytes + size <= self.max_bytes:
                self.figures += 1
                self.bytes += size
                kept.append(figure)
            else:
                dropped += 1
        if not dropped:
            return result
        self.dropped += dropped
        note = (
            f"[{dropped} figure(s) not shown: this request's figure limit is reached "
            f"({self.max_figures} figures, {self.max_bytes // 2**20} MB); draw fewer or "
            "smaller figures, or print the numbers instead]"
        )
        stderr = f"{result.stderr}\n{note}" if result.stderr else note
        return result.model_copy(update={"figures": kept, "stderr": stderr})

    def wrap(self, sandbox: CodeSandbox) -> CodeSandbox:
        """`sandbox` with `run` filtered through `admit` (everything else passes through)."""
        return _BudgetedSandbox(sandbox, self)


class _BudgetedSandbox:
    def __init__(self, sandbox: CodeSandbox, budget: FigureBudget) -> None:
        self._sandbox = sandbox
        self._budget = budget

    def run(self, code: str, timeout_s: float | None = None) -> ExecutionResult:
        result: ExecutionResult = self._budget.admit(self._sandbox.run(code, timeout_s=timeout_s))
        return result

    def put_file(self, name: str, data: bytes | str) -> FileInfo:
        return self._sandbox.put_file(name, data)

    def list_files(self) -> list[FileInfo]:
        return self._sandbox.list_files()

    def read_file(self, name: str) -> bytes:
        return self._sandbox.read_file(name)

    def close(self) -> None:
        self._sandbox.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)

    def __enter__(self) -> _BudgetedSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sandbox.close()
