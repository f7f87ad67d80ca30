"""Pull the final answer alone out of a model's prose."""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.parts import Part, ResultPart, TextPart

_B = r"(?:\*\*|__|\*)?"  # optional markdown emphasis around a marker
# After the marker only a closing mark (followed by a space or the end) belongs to the marker:
# in "Final answer: __init__" or "Final answer: **5**" the marks are the answer's.
_CLOSE = r"(?:(?:\*\*|__|\*)(?=\s|$))?"
_FINAL = re.compile(
    rf"{_B}[ \t]*final\s+answer[ \t]*{_B}[ \t]*(?:is\b|:|=|：)?[ \t]*{_CLOSE}[ \t]*:?[ \t]*",
    re.IGNORECASE,
)
_ANSWER_LINE = re.compile(
    rf"^[ \t#>*-]*{_B}answer{_B}\s*:\s*{_CLOSE}\s*(?P<rest>[^\n]+)", re.IGNORECASE | re.MULTILINE
)
_ANSWER_IS = re.compile(r"\banswer\s+is\s*:?\s*(?P<rest>[^\n]+)", re.IGNORECASE)
_BOXED = re.compile(r"\\boxed\s*\{")
_FENCE = re.compile(r"```[\w+-]*\n?(.*?)```", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# A `**bold**` span as markdown writes it: opening `**` at the start or after a space/bracket and
# followed by a non-space; closing `**` after a non-space and followed by the end, a space or
# punctuation. `3*x**2 + 2` and `2**10` have no such span, so their operators stay.
_BOLD_SPAN = re.compile(r"(?<![^\s(\[{:])\*\*(?P<inner>[^\s*](?:[^*]*[^\s*])?)\*\*(?![\w*])")
_WRAPPERS = ("**", "*", "`")


def _unwrap(s: str) -> str:
    """Remove emphasis or code marks that wrap the whole answer (`**5**`, `*5*`, `` `5` ``), and
    dangling marks around it; marks inside the answer are its own characters and stay."""
    while True:
        s = s.strip()
        for mark in _WRAPPERS:
            n = len(mark)
            if len(s) > 2 * n and s.startswith(mark) and s.endswith(mark):
                inner = s[n:-n]
                if inner.strip("* \t"):
                    s = inner
                    break
        else:
            if s.startswith("**") and "**" not in s[2:]:
                s = s[2:]  # a dangling opener: "**Final answer:** 42" leaves "** 42" or "42**"
            elif s.endswith("**") and "**" not in s[:-2] and not s[:-2].endswith("*"):
                s = s[:-2]
            else:
                return s


def find_final_answer(text: str) -> str | None:
    """The answer the text states explicitly (Final answer / \\boxed / "the answer is"), or None."""
    matches = list(_FINAL.finditer(text))
    if matches:
        after = text[matches[-1].end() :]
        rest = after.split("\n", 1)[0]
        if not _clean(rest):
            rest = _following_block(after[len(rest) :])
        answer = _clean(rest)
        if answer:
            return answer
    boxed = _last_boxed(text)
    if boxed is not None and _clean(boxed):
        return _clean(boxed)
    for pattern in (_ANSWER_LINE, _ANSWER_IS):
        matches = list(pattern.finditer(text))
        if matches:
            answer = _clean(matches[-1].group("rest"))
            if answer:
                return answer
    return None


def extract_final_answer(text: str) -> str:
    """The stated answer; failing that, the last non-empty line of the text (cleaned)."""
    found = find_final_answer(text)
    if found is not None:
        return found
    return _clean(_last_line(text))


def answer_from_parts(parts: Iterable[Part]) -> str:
    """Best answer from a run's parts: the latest explicit statement, else the last text's last
    line, else the last line a successful code run printed."""
    parts = list(parts)
    texts = [p.text for p in parts if isinstance(p, TextPart) and p.text.strip()]
    for text in reversed(texts):
        found = find_final_answer(text)
        if found is not None:
            return found
    if texts:
        return extract_final_answer(texts[-1])
    outputs = [p.output for p in parts if isinstance(p, ResultPart) and p.outcome == "OUTCOME_OK"]
    for output in reversed(outputs):
        lines = [ln for ln in output.splitlines() if ln.strip() and not ln.startswith("[figure")]
        if lines:
            return lines[-1].strip()
    return ""


def _following_block(text: str) -> str:
    """The answer written on the lines after a bare "Final answer:" (a fence, bullets, or a line)."""
    stripped = text.lstrip("\n").lstrip()
    fence = _FENCE.match(stripped)
    if fence:
        return fence.group(1).strip()
    lines: list[str] = []
    for line in stripped.splitlines():
        if not line.strip():
            break
        lines.append(line)
    if len(lines) > 1 and all(_BULLET.match(ln) for ln in lines):
        return ", ".join(_BULLET.sub("", ln).strip() for ln in lines)
    return lines[0] if lines else ""


def _last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...}, with nested braces."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    start = starts[-1]
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return text[start:]


def _last_line(text: str) -> str:
    outside = _FENCE.sub("\n", text)
    for source in (outside, text):
        lines = [
            ln for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("```")
        ]
        if lines:
            return lines[-1]
    return ""


def _clean(answer: str) -> str:
    s = answer.strip()
    fence = _FENCE.search(s)
    if fence:
        s = fence.group(1).strip()
    boxed = _last_boxed(s)
    if boxed is not None:
        s = boxed
    s = re.sub(r"^(?:the\s+)?answer\s+is\s*:?\s*", "", s, flags=re.IGNORECASE)
    s = re.sub(r"\\text\{([^{}]*)\}", r"\1", s)
    s = s.replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    s = re.sub(r"\$+([^$]*)\$+", r"\1", s)
    s = _unwrap(_BOLD_SPAN.sub(r"\g<inner>", s))
    s = s.lstrip("#>").strip()
    s = _unwrap(re.sub(r"[.。]+$", "", s).strip())
    s = re.sub(r"[ \t]{2,}", " ", s)
    return s
