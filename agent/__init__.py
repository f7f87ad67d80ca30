"""codexec's agent: a model writes Python, the sandbox runs it, the model sees what happened."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agent.events import Done, Event, PartDone, TextDelta
from agent.files import MAX_INPUT_FILE_BYTES, InputFile
from agent.loop import Agent, Contents, FileLike
from agent.models import get_model
from agent.models.base import GenerateOptions, Model, ModelError
from agent.result import OutputFile, SolveResult

__all__ = [
    "MAX_INPUT_FILE_BYTES",
    "Agent",
    "Done",
    "Event",
    "GenerateOptions",
    "InputFile",
    "Model",
    "ModelError",
    "OutputFile",
    "PartDone",
    "SolveResult",
    "TextDelta",
    "get_model",
    "solve",
]


def solve(
    question: Contents,
    model: str | Model = "local",
    files: Iterable[FileLike] = (),
    code_execution: bool = True,
    max_steps: int = 10,
    max_retries: int = 5,
    time_budget_s: float = 300.0,
    on_event: Callable[[Event], Any] | None = None,
    **agent_options: Any,
) -> SolveResult:
    """Answer `question`, letting the model run Python in a fresh sandbox.

    >>> r = solve("How many times does the letter r occur in strawberry?")
    >>> r.final_answer
    '3'
    """
    agent = Agent(
        model,
        code_execution=code_execution,
        max_steps=max_steps,
        max_retries=max_retries,
        time_budget_s=time_budget_s,
        **agent_options,
    )
    return agent.run(question, files, on_event=on_event)
