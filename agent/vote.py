"""Self-consistency: the answer most of K independently sampled solves agree on.

Answers are compared by meaning, not by spelling: "1,200", "$1200.00" and "1200 dollars" are
one vote for 1200; other answers are compared case- and space-insensitively. A solve that gave
no answer (an error, a cut-off generation, the time budget) does not vote. A tie goes to the
earliest solve among the tied, and solve 0 is the greedy one, so K=1 answers exactly as before.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?![\w.]*\d)")
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


@dataclass(frozen=True)
class Ballot:
    """One solve's say: its answer, and whether it may vote at all."""

    answer: str
    valid: bool = True


@dataclass(frozen=True)
class Tally:
    winner: int | None  # index of the solve whose answer won (None: nobody voted)
    votes: int  # how many solves agree with the winner
    voters: int  # how many solves voted


def answer_key(answer: str) -> str:
    """What two answers must share to count as the same vote."""
    text = answer.strip().rstrip(".").strip()
    text = re.sub(r"^[A-Za-z_]\w*\s*=\s*", "", text)  # "x = 5" is 5
    numbers = [_to_number(tok) for tok in _NUMBER.findall(text)]
    values = {n for n in numbers if n is not None}
    if len(values) == 1 and _only_decoration(text):
        value = values.pop()
        return f"#{round(value, 9):.9g}"
    return " ".join(text.casefold().split())


def tally(ballots: Sequence[Ballot]) -> Tally:
    counts: dict[str, list[int]] = {}
    for i, ballot in enumerate(ballots):
        if ballot.valid and ballot.answer.strip():
            counts.setdefault(answer_key(ballot.answer), []).append(i)
    if not counts:
        return Tally(winner=None, votes=0, voters=0)
    best = max(counts.values(), key=lambda idx: (len(idx), -idx[0]))
    return Tally(winner=best[0], votes=len(best), voters=sum(len(v) for v in counts.values()))


def rounds(k: int) -> Iterator[tuple[int, int]]:
    """(solves drawn before, solves to draw) of each round of self-consistency with at most k
    solves: 2, then 4, then 8 in all, and so on, the last round cut to k."""
    drawn, target = 0, 2
    while drawn < k:
        size = min(target, k) - drawn
        yield drawn, size
        drawn, target = drawn + size, target * 2


def settled(ballots: Sequence[Ballot], left: int) -> bool:
    """Whether drawing up to `left` more solves is not worth it: every voter agrees (two at
    least), three in four agree, or the leader is ahead by more than the solves left."""
    if left <= 0:
        return True
    keys = Counter(answer_key(b.answer) for b in ballots if b.valid and b.answer.strip())
    counts = sorted(keys.values(), reverse=True) + [0, 0]
    lead, runner_up, voters = counts[0], counts[1], sum(counts)
    if voters >= 2 and lead == voters:
        return True
    return (lead >= 3 and 4 * lead >= 3 * voters) or lead - runner_up > left


def _to_number(token: str) -> float | None:
    token = token.replace("−", "-")
    if "," in token:
        if not _THOUSANDS.match(token):
            return None
        token = token.replace(",", "")
    try:
        if "/" in token:
            num, den = token.split("/")
            return float(num) / float(den) if float(den) else None
        return float(token)
    except ValueError:
        return None


def _only_decoration(text: str) -> bool:
    """True when the text is one number plus currency, units or a few words ("12 apples"):
    a list or an expression such as "3, 4" or "2*x + 1" keeps its own spelling as the key."""
    rest = _NUMBER.sub(" ", text)
    if re.search(r"[=+*^/()\[\]{}<>]", rest) or re.search(r"\d", rest):
        return False
    return len(rest.split()) <= 4
