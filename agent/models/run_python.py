"""The `run_python` tool that native-tool backends (Gemini, Anthropic, OpenAI tools mode) offer.

One definition, rendered in each provider's schema dialect.
"""

from __future__ import annotations

from typing import Any

NAME = "run_python"
DESCRIPTION = (
    "Run Python code in a stateful sandbox (variables and files persist between calls) "
    "and return its outcome and output (stdout, stderr, traceback). Use it for every "
    "calculation, count or data task and print what you need to see. Figures drawn with "
    "matplotlib are shown to you as images."
)
CODE_DESCRIPTION = "The Python code to run."


def json_schema(upper_case_types: bool = False) -> dict[str, Any]:
    """The parameters schema; Gemini's REST dialect spells types in upper case."""
    obj, string = ("OBJECT", "STRING") if upper_case_types else ("object", "string")
    return {
        "type": obj,
        "properties": {"code": {"type": string, "description": CODE_DESCRIPTION}},
        "required": ["code"],
    }
