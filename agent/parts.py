"""Typed conversation parts, shaped after Gemini's `Content`/`Part` (and serialised to its REST JSON)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Outcome = Literal["OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"]  # Gemini's


class TextPart(BaseModel):
    kind: Literal["text"] = "text"
    text: str


class CodePart(BaseModel):
    """Code the model asked to run (Gemini's `executableCode`)."""

    kind: Literal["code"] = "code"
    code: str
    language: str = "PYTHON"


class ResultPart(BaseModel):
    """What running a `CodePart` gave (Gemini's `codeExecutionResult`)."""

    kind: Literal["result"] = "result"
    outcome: Outcome
    output: str
    verdict: str = "ok"  # the sandbox's finer reason; not sent on the Gemini wire


class ImagePart(BaseModel):
    """Inline binary data: figures the code drew, or files the user attached (Gemini's `inlineData`)."""

    kind: Literal["image"] = "image"
    mime_type: str = "image/png"
    data: str  # base64
    name: str | None = None  # a user file's name, where known


class FunctionCallPart(BaseModel):
    """A call of a user-declared function, returned to the caller (not run by us)."""

    kind: Literal["function_call"] = "function_call"
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class FunctionResponsePart(BaseModel):
    kind: Literal["function_response"] = "function_response"
    name: str
    response: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


Part = Annotated[
    TextPart | CodePart | ResultPart | ImagePart | FunctionCallPart | FunctionResponsePart,
    Field(discriminator="kind"),
]


class Message(BaseModel):
    """One turn of the conversation. As in Gemini, a model turn holds its code *and* the results."""

    role: Literal["user", "model"]
    parts: list[Part]

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", parts=[TextPart(text=text)])

    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


def figure_line(n: int) -> str:
    """The line a run's output gets for the model, one per figure drawn (agent/observe.py): the
    model reads text, the figure itself travels as an ImagePart."""
    return f"[figure {n} shown]"


FIGURE_LINE = re.compile(r"^\[figure \d+ shown\]\n?", re.MULTILINE)  # figure_line's, to strip


def part_to_gemini(part: Part) -> dict[str, Any]:
    """A part in Gemini's REST JSON (camelCase)."""
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, CodePart):
        return {"executableCode": {"language": part.language, "code": part.code}}
    if isinstance(part, ResultPart):
        output = FIGURE_LINE.sub("", part.output)  # the figures follow as inlineData parts
        return {"codeExecutionResult": {"outcome": part.outcome, "output": output}}
    if isinstance(part, ImagePart):
        return {"inlineData": {"mimeType": part.mime_type, "data": part.data}}
    if isinstance(part, FunctionCallPart):
        call: dict[str, Any] = {"name": part.name, "args": part.args}
        if part.id:
            call["id"] = part.id
        return {"functionCall": call}
    response: dict[str, Any] = {"name": part.name, "response": part.response}
    if part.id:
        response["id"] = part.id
    return {"functionResponse": response}


def last_run(history: list[Message]) -> tuple[CodePart, ResultPart] | None:
    """The code and result the history ends with (figures after the result aside), if any."""
    if not history or history[-1].role != "model":
        return None
    parts = [p for p in history[-1].parts if p.kind != "image"]
    if len(parts) >= 2 and isinstance(parts[-2], CodePart) and isinstance(parts[-1], ResultPart):
        return parts[-2], parts[-1]
    return None
