"""What a solve returns, and its Gemini `GenerateContentResponse` JSON (CONTRACT.md section 2)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from agent.gemini_json import finish_fields
from agent.parts import Part, part_to_gemini
from agent.usage import Speed, Usage

FinishReason = Literal["STOP", "MAX_TOKENS", "MAX_STEPS", "TIME_BUDGET", "ERROR"]
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)


class OutputFile(BaseModel):
    """A file the model's code created or changed in the sandbox."""

    name: str
    mime_type: str
    data_b64: str
    size: int = 0


class SolveResult(BaseModel):
    parts: list[Part] = Field(default_factory=list)  # the model's parts only, in order
    final_answer: str = ""
    steps: int = 0  # model calls
    duration_s: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    speed: Speed | None = None  # the model calls' speed, when the backend times them
    finish_reason: FinishReason = "STOP"
    output_files: list[OutputFile] = Field(default_factory=list)
    error: str | None = None
    samples: list[str] = Field(default_factory=list)  # each sampled solve's answer (samples > 1)
    votes: int = 0  # how many of them agree with final_answer

    def to_gemini(self, include_output_files: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [part_to_gemini(p) for p in self.parts]},
                    **finish_fields(self.finish_reason, self.error),
                }
            ],
            "usageMetadata": self.usage.to_gemini(),
            "finalAnswer": self.final_answer,
            "steps": self.steps,
            "durationS": round(self.duration_s, 3),
        }
        if self.speed is not None:
            out["speed"] = self.speed.to_json()
        if self.error is not None:
            out["error"] = self.error
        if self.samples:
            out["samples"] = {"answers": self.samples, "votes": self.votes}
        if include_output_files and self.output_files:
            out["outputFiles"] = [
                {"name": f.name, "mimeType": f.mime_type, "size": f.size, "data": f.data_b64}
                for f in self.output_files
            ]
        return out
