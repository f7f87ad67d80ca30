"""Code as fenced ```python blocks in plain text: shared by the local and OpenAI-compatible backends.

A text model writes prose, then one ```python block; generation stops as soon as that block is
closed, the loop runs it, and the output comes back as a user message holding an ```output block.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from agent.parts import CodePart, FunctionCallPart, FunctionResponsePart, Message, ResultPart

# Sent as server-side stop strings. "\n```\n" is a closing fence (an opening one carries a
# language); "```output" keeps the model from inventing the output of its own code.
STOP = ["\n```\n", "```output"]
# Extra stops for raw ChatML prompts (the local backend detects the closing fence itself).
CHATML_STOP = ["```output", "<|im_end|>", "<|endoftext|>", "<|im_start|>"]

_OPEN = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\r?\n", re.IGNORECASE)
# A closing fence: ``` alone on its line (possibly indented), then a newline or the end.
_CLOSE_LINE = re.compile(r"(?:^|\n)[ \t]*```[ \t]*(?=\r?\n|$)")
_CLOSE_STREAM = re.compile(r"(?:^|\n)[ \t]*```[ \t]*\r?\n")


@dataclass(frozen=True)
class CodeBlock:
    prose: str  # the text before the opening fence
    code: str
    closed: bool
    end: int  # index in the text just past the closing fence (len(text) when unclosed)


def find_code_block(text: str, *, at_end: bool = True) -> CodeBlock | None:
    """The first ```python block in `text`, or None when no block has been opened.

    `at_end=True` means `text` is complete, so a fence on the very last line closes the block;
    while streaming pass False: a trailing "```" might still grow into "```output" or similar.
    """
    opening = _OPEN.search(text)
    if opening is None:
        return None
    body_start = opening.end()
    closer = (_CLOSE_LINE if at_end else _CLOSE_STREAM).search(text, body_start - 1)
    if closer is None:
        return CodeBlock(text[: opening.start()], _clean(text[body_start:]), False, len(text))
    code = text[body_start : closer.start()]
    return CodeBlock(text[: opening.start()], _clean(code), True, closer.end())


def _clean(code: str) -> str:
    return textwrap.dedent(code.replace("\r\n", "\n")).strip("\n")


def split_first_code_block(text: str, *, stopped_at_fence: bool = False) -> tuple[str, str | None]:
    """(prose, code) where code is the first complete ```python block, else (text, None).

    `stopped_at_fence`: the server stopped on the closing-fence stop string (which it strips),
    so an unclosed block at the end of `text` is in fact complete.
    """
    block = find_code_block(text)
    if block is None or not (block.closed or stopped_at_fence) or not block.code.strip():
        return text, None
    return block.prose, block.code


def fence_code(code: str) -> str:
    return "```python\n" + code.strip("\n") + "\n```"


def fence_output(output: str) -> str:
    body = output if output.endswith("\n") or not output else output + "\n"
    return "```output\n" + body + "```"


def render_history(history: list[Message]) -> list[dict[str, str]]:
    """Chat messages for a text model.

    A model Message (text, code, result, text, code, result, ...) becomes assistant messages
    holding prose and ```python blocks, each result a user message holding an ```output block.
    Images (figures, attached files) are left out: the output text already says "[figure N shown]"
    and files are named in the system prompt. Function calls/responses are rendered as text.
    """
    messages: list[dict[str, str]] = []

    def add(role: str, content: str) -> None:
        if not content:
            return
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += ("\n\n" if role == "user" else "") + content
        else:
            messages.append({"role": role, "content": content})

    for message in history:
        role = "user" if message.role == "user" else "assistant"
        pending = ""  # the assistant text being built (prose + code fences)
        for part in message.parts:
            if part.kind == "text":
                pending += part.text
            elif isinstance(part, CodePart):
                sep = "" if not pending or pending.endswith("\n") else "\n\n"
                pending += sep + fence_code(part.code)
            elif isinstance(part, ResultPart):
                add(role, pending)
                pending = ""
                add("user", fence_output(part.output))
            elif isinstance(part, FunctionCallPart):
                pending += f"\n[called {part.name}({part.args})]"
            elif isinstance(part, FunctionResponsePart):
                pending += f"\n[{part.name} returned {part.response}]"
        add(role, pending)
    return messages


class ProseStreamer:
    """Turns raw text deltas into prose deltas: everything before the first code fence.

    Holds back a trailing partial "```" so a fence is never shown half-written.
    """

    def __init__(self) -> None:
        self._text = ""
        self._sent = 0
        self._done = False

    def feed(self, delta: str) -> str:
        if self._done:
            return ""
        self._text += delta
        fence = self._text.find("```", self._sent)
        if fence >= 0:
            self._done = True
            end = fence
        else:
            end = len(self._text)
            for keep in (2, 1):
                if self._text.endswith("`" * keep):
                    end -= keep
                    break
        out = self._text[self._sent : end]
        self._sent = max(self._sent, end)
        return out

    def flush(self) -> str:
        """The rest of the prose once generation ended (a dangling backtick, say)."""
        if self._done:
            return ""
        self._done = True
        return self._text[self._sent :]
