"""The state of one solve, as the loop (agent/loop.py) advances it step by step."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.answer import answer_from_parts
from agent.events import Event, PartDone
from agent.figure_budget import FigureBudget
from agent.files import InputFile
from agent.parts import Message, Part
from agent.result import FinishReason, OutputFile, SolveResult
from agent.usage import CallUsage, Speed, Usage

if TYPE_CHECKING:
    from agent.execute import CodeSandbox


@dataclass
class SolveState:
    history: list[Message]  # the conversation the model sees, growing with each step
    inputs: list[InputFile]
    start: float  # monotonic
    budget: float  # seconds
    code_on: bool  # the loop switches code execution off at the retry limit
    parts: list[Part] = field(default_factory=list)  # the model's parts: the result's content
    calls: list[CallUsage] = field(default_factory=list)  # one per model call
    created: dict[str, None] = field(default_factory=dict)  # files the code created or changed
    figures: int = 0
    figure_budget: FigureBudget = field(default_factory=FigureBudget.from_env)
    steps: int = 0
    failures: int = 0  # consecutive failed (or repeated) code runs
    last_code: str | None = None
    empty_turns: int = 0
    cut_offs: int = 0
    rechecked_answer: bool = False  # asked once about an answer the output did not show
    finish: FinishReason = "STOP"
    error: str | None = None
    sandbox: CodeSandbox | None = None  # opened when code first runs
    output_files: list[OutputFile] = field(default_factory=list)

    def remaining(self) -> float:
        """Seconds left of the time budget."""
        return self.budget - (time.monotonic() - self.start)

    def add(self, message: Message, new: list[Part]) -> Generator[Event, None, None]:
        """Append parts to the model message and to the result, announcing each."""
        for part in new:
            message.parts.append(part)
            self.parts.append(part)
            yield PartDone(part)

    def result(self) -> SolveResult:
        return SolveResult(
            parts=self.parts,
            final_answer="" if self.finish == "MAX_TOKENS" else answer_from_parts(self.parts),
            steps=self.steps,
            duration_s=time.monotonic() - self.start,
            usage=Usage.from_calls(self.calls),
            speed=Speed.from_calls(self.calls),
            finish_reason=self.finish,
            output_files=self.output_files,
            error=self.error,
        )
