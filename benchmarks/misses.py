"""`python -m benchmarks report --misses`: each wrong task with its whole transcript (the
model's text, its code, what the code printed), so that a miss can be read afterwards."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

Record = dict[str, Any]
OUTPUT_LINES = 30  # a long output is cut to its first lines


def misses(records: list[Record]) -> list[Record]:
    """The records scored wrong (errors included), in file order."""
    return [r for r in records if not r.get("correct")]


def transcript_blocks(record: Record) -> list[Any]:
    """Renderables for the record's transcript, one per part."""
    blocks: list[Any] = []
    for part in record.get("transcript") or []:
        if "text" in part:
            blocks.append(Text(str(part["text"]).strip()))
        elif "executableCode" in part:
            code = str(part["executableCode"].get("code", ""))
            blocks.append(Syntax(code, "python", line_numbers=False, word_wrap=True))
        elif "codeExecutionResult" in part:
            result = part["codeExecutionResult"]
            lines = str(result.get("output", "")).rstrip().splitlines()
            cut = len(lines) > OUTPUT_LINES
            shown = "\n".join(lines[:OUTPUT_LINES]) + ("\n..." if cut else "")
            style = "green" if result.get("outcome") == "OUTCOME_OK" else "red"
            blocks.append(Text(f"[{result.get('outcome')}]\n{shown}", style=style))
        elif "inlineData" in part:
            blocks.append(Text(f"[figure {part['inlineData'].get('mimeType', '')}]", "dim"))
    return blocks


def header(record: Record) -> str:
    mode = "code" if record.get("code_execution") else "no code"
    return (
        f"{record.get('id')} ({record.get('suite')}, {record.get('model')}, {mode}): "
        f"expected {record.get('expected')!r}, answered {record.get('final_answer')!r}"
        f" in {float(record.get('duration_s') or 0):.1f} s"
    )


def print_misses(records: list[Record], console: Console) -> int:
    """Print every miss with its question and transcript; returns how many."""
    wrong = misses(records)
    for r in wrong:
        body: list[Any] = []
        if r.get("question"):
            body.append(Text(str(r["question"]), style="bold"))
        if r.get("error"):
            body.append(Text(f"error: {r['error']}", style="red"))
        if r.get("samples"):
            body.append(Text(f"samples: {r['samples']}", style="dim"))
        body.extend(transcript_blocks(r))
        console.print(Panel(Group(*body), title=header(r), title_align="left"))
    console.print(f"{len(wrong)} of {len(records)} tasks missed")
    return len(wrong)
