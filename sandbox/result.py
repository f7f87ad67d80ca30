"""Typed results of a sandbox run (the JSON object of CONTRACT.md section 1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

Outcome = Literal["OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"]
Verdict = Literal[
    "ok",
    "runtime_error",
    "timeout",
    "memory_limit",
    "output_limit",
    "import_blocked",
    "internal_error",
]


class SandboxError(Exception):
    """Misuse of the sandbox (closed session, bad or oversized file, ...)."""


class ErrorInfo(BaseModel):
    name: str
    message: str
    traceback: str = ""


class Figure(BaseModel):
    mime_type: str = "image/png"
    data: str  # base64


class FileInfo(BaseModel):
    name: str
    size: int
    mime_type: str


def outcome_for(verdict: Verdict) -> Outcome:
    if verdict == "ok":
        return "OUTCOME_OK"
    if verdict == "timeout":
        return "OUTCOME_DEADLINE_EXCEEDED"
    return "OUTCOME_FAILED"


class ExecutionResult(BaseModel):
    outcome: Outcome
    verdict: Verdict
    stdout: str = ""
    stderr: str = ""
    error: ErrorInfo | None = None
    figures: list[Figure] = []
    files: list[FileInfo] = []
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Exactly the JSON object of CONTRACT.md section 1."""
        return self.model_dump(mode="json")

    @classmethod
    def make(cls, verdict: Verdict, **kwargs: Any) -> ExecutionResult:
        return cls(outcome=outcome_for(verdict), verdict=verdict, **kwargs)
