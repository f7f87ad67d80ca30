"""The Interactions API's server-sent events, from the agent's live events (interactions_jobs.py).

A streamed interaction (`create(..., stream=True)`, `get(id, stream=True)`) is, as Gemini sends it:

    event: interaction.created        {"interaction": {"id", "status": "in_progress", ...}}
    event: interaction.status_update  {"interaction_id", "status": "in_progress"}
    then for each output step, as it happens:
    event: step.start                 {"index", "step": the step's type and ids}
    event: step.delta                 {"index", "delta": text | code_execution_call | ...}
    event: step.stop                  {"index"}
    event: interaction.status_update  {"interaction_id", "status": the final status}
    event: interaction.completed      {"interaction": {..., "usage"}} (no steps: they were sent),
        or for a run that failed:     event: error {"error": {"code", "message"}}
    event: done                       [DONE]

Every event carries `event_type` and an `event_id` ("1", "2", ...: `get(stream=True,
last_event_id=...)` resumes after it). `index` counts the interaction's output steps from 0.
Model text streams as `text` deltas while it is generated; a code call's step opens with its id
and gets its code as one `code_execution_call` delta; a result's step opens with the call's id
and gets the sandbox output as one `code_execution_result` delta.
"""

from __future__ import annotations

from typing import Any

from agent.events import PartDone, TextDelta
from agent.parts import Part, ResultPart, TextPart
from agent.server import safejson
from agent.server.interactions_steps import part_step

DONE = b"event: done\ndata: [DONE]\n\n"


def sse(event: dict[str, Any]) -> bytes:
    return (
        b"event: "
        + str(event["event_type"]).encode()
        + b"\ndata: "
        + safejson.dumps(event)
        + b"\n\n"
    )


def step_events(index: int, step: dict[str, Any]) -> list[dict[str, Any]]:
    """A complete step as its step.start, step.delta(s) and step.stop events."""
    kind = step["type"]
    events: list[dict[str, Any]] = []
    if kind == "model_output":
        events.append(_start(index, {"type": "model_output"}))
        for item in step.get("content") or []:
            events.append(_delta(index, dict(item)))
    elif kind == "code_execution_call":
        shell = {"type": kind, "id": step["id"], "arguments": {}}
        events.append(_start(index, shell))
        events.append(_delta(index, {"type": kind, "arguments": step.get("arguments") or {}}))
    elif kind == "code_execution_result":
        events.append(_start(index, {"type": kind, "call_id": step["call_id"], "result": ""}))
        result = step.get("result")
        delta = {"type": kind, "result": result if isinstance(result, str) else ""}
        delta["is_error"] = bool(step.get("is_error"))
        events.append(_delta(index, delta))
    else:  # function calls and the rest: whole in their start event
        events.append(_start(index, step))
    events.append({"event_type": "step.stop", "index": index})
    return events


class StepStream:
    """Turns the agent's TextDelta/PartDone events into step events, keeping the output steps.

    `feed` returns the events to send now; `close` ends a step left open (a run cut short).
    `steps` are the output steps so far, with the ids the events carried; `parts` the parts.
    """

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.parts: list[Part] = []
        self._text_open = False  # a model_output step is open, its text streaming
        self._streamed = ""  # the text sent as deltas in it
        self._call_id = ""

    def feed(self, item: Any) -> list[dict[str, Any]]:
        if isinstance(item, TextDelta):
            if not item.text:
                return []
            events = []
            if not self._text_open:
                events.append(_start(len(self.steps), {"type": "model_output"}))
                self._text_open = True
            self._streamed += item.text
            events.append(_delta(len(self.steps), {"type": "text", "text": item.text}))
            return events
        if isinstance(item, PartDone):
            return self._part(item.part)
        return []

    def close(self) -> list[dict[str, Any]]:
        """End an open text step (its text as streamed) at the end of the run."""
        if not self._text_open:
            return []
        self._text_open = False
        text, self._streamed = self._streamed, ""
        step = {"type": "model_output", "content": [{"type": "text", "text": text}]}
        self.steps.append(step)
        return [{"event_type": "step.stop", "index": len(self.steps) - 1}]

    def _part(self, part: Part) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        step = part_step(part, self._call_id)
        if isinstance(part, TextPart) and self._text_open:
            assert step is not None
            rest = _unsent(part.text, self._streamed)
            if rest:
                events.append(_delta(len(self.steps), {"type": "text", "text": rest}))
            self._text_open, self._streamed = False, ""
            events.append({"event_type": "step.stop", "index": len(self.steps)})
        else:
            events += self.close()
            if step is not None:
                events += step_events(len(self.steps), step)
        self.parts.append(part)
        if step is None:
            return events
        if step["type"] == "code_execution_call":
            self._call_id = step["id"]
        elif isinstance(part, ResultPart):
            self._call_id = ""
        self.steps.append(step)
        return events


def _start(index: int, step: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": "step.start", "index": index, "step": step}


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": "step.delta", "index": index, "delta": delta}


def _unsent(full: str, streamed: str) -> str:
    """What of a finished text part was not already sent as deltas."""
    if not streamed:
        return full
    return full[len(streamed) :] if full.startswith(streamed) else ""
