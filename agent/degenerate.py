"""Degenerate generations: a model stuck repeating itself until the token limit.

Small models fall into loops ("0\\n0\\n0..." or one line of code over and over). Spotting the loop
while streaming saves the rest of the token budget, and the loop can then ask again instead of
returning a cut-off answer.
"""

from __future__ import annotations

MIN_REPEATS = 8  # the same non-empty line this many times in a row
TAIL_CHARS = 240  # or the last this many characters one short pattern over and over
MAX_PERIOD = 40


def is_degenerate(text: str) -> bool:
    """True when the text ends in a loop: one line repeated, or a short pattern repeated."""
    return _repeated_line(text) or _repeated_tail(text)


def trim_loop(text: str) -> str:
    """The text up to where the loop starts (its first occurrence kept)."""
    lines = text.rstrip("\n").split("\n")
    if _repeated_line(text):
        last = lines[-1]
        i = len(lines) - 1
        while i > 0 and lines[i - 1] == last:
            i -= 1
        return "\n".join(lines[: i + 1])
    tail = text[-TAIL_CHARS:]
    period = _period(tail)
    if period:
        pattern = text[-period:]
        start = len(text) - period
        while start - period >= 0 and text[start - period : start] == pattern:
            start -= period
        return text[: start + period]
    return text


def _repeated_line(text: str) -> bool:
    lines = text.rstrip("\n").split("\n")[-MIN_REPEATS:]
    if len(lines) < MIN_REPEATS:
        return False
    tail = lines[-MIN_REPEATS:]
    return bool(tail[0].strip()) and all(ln == tail[0] for ln in tail)


def _repeated_tail(text: str) -> bool:
    if len(text) < TAIL_CHARS:
        return False
    return _period(text[-TAIL_CHARS:]) is not None


def _period(tail: str) -> int | None:
    """The shortest p <= MAX_PERIOD with tail made of one p-character pattern (not whitespace)."""
    for p in range(1, MAX_PERIOD + 1):
        if tail[p:] == tail[:-p] and tail[-p:].strip():  # shifted by p it is itself
            return p
    return None
