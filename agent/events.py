"""Events `Agent.stream()` yields while a solve runs."""

from __future__ import annotations

from dataclasses import dataclass

from agent.parts import Part
from agent.result import SolveResult


@dataclass(frozen=True)
class TextDelta:
    """A piece of the model's prose, as it is generated."""

    text: str


@dataclass(frozen=True)
class PartDone:
    """A complete model part: text, code, its result, a figure, or a function call."""

    part: Part


@dataclass(frozen=True)
class Done:
    """The last event of every solve."""

    result: SolveResult


Event = TextDelta | PartDone | Done
