"""Gemini's finish fields for our finish reasons: one mapping for `solve --json`, the REST
server and the Live API, so that they never disagree.

Gemini's `FinishReason` enum has STOP and MAX_TOKENS but nothing for our step limit, time budget
or errors; those are sent as OTHER with a `finishMessage` that says which (and the error's text).
"""

from __future__ import annotations

GEMINI_FINISH = frozenset({"STOP", "MAX_TOKENS"})
FINISH_MESSAGES = {
    "MAX_STEPS": "Stopped: the maximum number of model steps was reached.",
    "TIME_BUDGET": "Stopped: the time budget ran out.",
    "ERROR": "Stopped by an error.",
}


def finish_fields(finish_reason: str, error: str | None = None) -> dict[str, str]:
    """`finishReason` (a value of Gemini's enum) and, unless it is a plain STOP or MAX_TOKENS,
    a `finishMessage` naming our reason."""
    if finish_reason in GEMINI_FINISH and not error:
        return {"finishReason": finish_reason}
    message = FINISH_MESSAGES.get(finish_reason, f"Stopped: {finish_reason}.")
    if error:
        message = f"{message} {error}"
    reason = finish_reason if finish_reason in GEMINI_FINISH else "OTHER"
    return {"finishReason": reason, "finishMessage": message}
