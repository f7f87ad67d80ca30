"""What the model is shown after its code ran: one text, bounded, figures announced."""

from __future__ import annotations

from typing import Any

from agent.parts import figure_line

MAX_OBSERVATION_CHARS = 4000


def truncate(text: str, limit: int = MAX_OBSERVATION_CHARS) -> str:
    """Keep the head and the tail (errors are usually at the end) with a marker between."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n...[{cut} characters truncated]...\n{text[-tail:]}"


def format_output(result: Any, first_figure: int = 1) -> str:
    """stdout + stderr + the error (traceback), truncated, then "[figure N shown]" lines.

    `result` is a sandbox ExecutionResult; figures are numbered from `first_figure` so the
    numbers match across the steps of one solve (and the CLI's figure_N.png files).
    """
    chunks = [c for c in (result.stdout, result.stderr) if c]
    error = result.error
    if error is not None:
        trace = (error.traceback or "").rstrip()
        last = f"{error.name}: {error.message}".rstrip(": ")
        if result.verdict == "import_blocked":  # the sandbox's own frames are noise here
            chunks.append(last)
        elif trace and error.name in trace:
            chunks.append(trace)
        elif trace:
            chunks.append(f"{trace}\n{last}")
        else:
            chunks.append(last)
    if result.verdict == "timeout" and not any("time" in c.lower() for c in chunks[-1:]):
        chunks.append(
            "Execution timed out; the interpreter was restarted and variables were lost "
            "(files in the working directory remain)."
        )
    text = truncate("\n".join(c.rstrip("\n") for c in chunks))
    figures = [figure_line(first_figure + i) for i in range(len(result.figures))]
    if figures:
        text = "\n".join([text, *figures]) if text else "\n".join(figures)
    return text
