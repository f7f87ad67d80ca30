"""The `text` suite (string tasks): every answer is computed here with plain Python."""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from collections import Counter
from collections.abc import Callable

from benchmarks.gen_task import Task, distinct, task
from benchmarks.words import COMMON, FIRST_NAMES, LONG

INT_ONLY = "Answer with the integer only."
VOWELS = set("aeiou")


def sentence(rng: random.Random, n: int, punctuate: bool = True) -> str:
    words = [rng.choice(COMMON) for _ in range(n)]
    if punctuate:
        for k in range(4, n - 1, rng.randint(5, 9)):
            words[k] += ","
        words[0] = words[0].capitalize()
        words[-1] += "."
    return " ".join(words)


@distinct
def letter_counts(rng: random.Random, i: int) -> Task:
    if i % 2 == 0:
        text = rng.choice(LONG)
        letter = rng.choice([c for c, k in Counter(text).items() if k >= 2] or list(text))
        q = f'How many times does the letter "{letter}" occur in the word "{text}"?'
    else:
        text = sentence(rng, rng.randint(15, 45))
        letter = rng.choice("aeinorst")
        q = (
            f'How many times does the letter "{letter}" occur in the following sentence '
            f"(counting upper and lower case)?\n{text}"
        )
    answer = text.lower().count(letter)
    return task("letters", i, f"{q}\n{INT_ONLY}", answer, "int", "letter_counts")


@distinct
def word_counts(rng: random.Random, i: int) -> Task:
    text = sentence(rng, rng.randint(30, 120))
    q = (
        "How many words are in the following text? A word is a run of characters between "
        f"spaces.\n{text}\n{INT_ONLY}"
    )
    return task("words", i, q, len(text.split()), "int", "word_counts")


@distinct
def most_frequent(rng: random.Random, i: int) -> Task:
    vocab = rng.sample(COMMON, rng.randint(8, 20))
    words = [rng.choice(vocab) for _ in range(rng.randint(50, 140))]
    counts = Counter(words)
    top = rng.choice(vocab)
    words += [top] * (max(counts.values()) - counts[top] + rng.randint(1, 2))
    rng.shuffle(words)
    text = " ".join(words)
    (best, k1), (_, k2) = Counter(text.split()).most_common(2)
    assert k1 > k2
    q = (
        f"Which word occurs most often in the following text?\n{text}\n"
        "Answer with the word only, in lowercase."
    )
    return task("frequent", i, q, best, "text", "most_frequent_word")


def snake(words: list[str]) -> str:
    return "_".join(w.lower() for w in words)


def camel(words: list[str]) -> str:
    return words[0].lower() + "".join(w.capitalize() for w in words[1:])


@distinct
def reverse_recase(rng: random.Random, i: int) -> Task:
    v, exact = i % 5, False
    if v == 0:
        word = rng.choice(LONG + COMMON)
        q, ans = f'Reverse the letters of the word "{word}".', word[::-1]
    elif v == 1:
        words = [rng.choice(COMMON) for _ in range(rng.randint(6, 12))]
        q = f'Reverse the order of the words in: "{" ".join(words)}"'
        ans = " ".join(reversed(words))
    elif v == 2:
        s = "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(10, 24)))
        q, ans, exact = f'Swap the case of every letter in "{s}".', s.swapcase(), True
    elif v == 3:
        words = [rng.choice(COMMON).capitalize() for _ in range(rng.randint(3, 6))]
        q = f'Convert "{" ".join(words)}" to snake_case.'
        ans, exact = snake(words), True
    else:
        words = [rng.choice(COMMON) for _ in range(rng.randint(3, 6))]
        q = f'Convert "{" ".join(words)}" to camelCase (first word all lowercase).'
        ans, exact = camel(words), True
    q += " Answer with the resulting text only, without quotes."
    return task("reverse", i, q, ans, "text", "reverse_recase", case_sensitive=exact)


SORTERS: list[tuple[str, Callable[[list[str]], list[str]]]] = [
    (
        "by length (shortest first), ties alphabetically",
        lambda ws: sorted(ws, key=lambda s: (len(s), s)),
    ),
    ("by their last letter, ties alphabetically", lambda ws: sorted(ws, key=lambda s: (s[-1], s))),
    ("in reverse alphabetical order (z to a)", lambda ws: sorted(ws, reverse=True)),
    (
        "by the number of vowels (a, e, i, o, u; fewest first), ties alphabetically",
        lambda ws: sorted(ws, key=lambda s: (sum(c in VOWELS for c in s), s)),
    ),
]


@distinct
def sort_words(rng: random.Random, i: int) -> Task:
    words = rng.sample(COMMON, rng.randint(7, 12))
    how, sorter = SORTERS[i % len(SORTERS)]
    ans = ", ".join(sorter(words))
    q = (
        f"Sort these words {how}: {', '.join(words)}.\n"
        "Give the sorted words as a comma-separated list."
    )
    return task("sort", i, q, ans, "text", "sort_words")


@distinct
def regex_tasks(rng: random.Random, i: int) -> Task:
    v = i % 4
    chunks = [sentence(rng, rng.randint(3, 7), punctuate=False) for _ in range(6)]
    ans: float | str
    if v == 0:
        nums = [rng.randint(1, 9999) for _ in range(6)]
        items = [
            f"{c} #{k}" if j % 2 else f"{k} {c}"
            for j, (c, k) in enumerate(zip(chunks, nums, strict=False))
        ]
        text = "; ".join(items)
        ans = sum(int(m) for m in re.findall(r"\d+", text))
        q = f"What is the sum of all the integers that appear in this text?\n{text}\n{INT_ONLY}"
        kind = "int"
    elif v == 1:
        people = rng.sample(FIRST_NAMES, 6)
        chosen = rng.sample(people, rng.randint(2, 5))
        parts = []
        for c, p in zip(chunks, people, strict=False):
            contact = (
                f"{p.lower()}@example.org" if p in chosen else f"{p.lower()} at example dot org"
            )
            parts.append(f"{c} {contact}")
        text = ". ".join(parts)
        ans = len(re.findall(r"[\w.]+@[\w.]+\.\w+", text))
        q = f"How many email addresses appear in this text?\n{text}\n{INT_ONLY}"
        kind = "int"
    elif v == 2:
        cents = [rng.randint(99, 99999) for _ in range(rng.randint(4, 6))]
        text = " ".join(
            f"{c} ${k // 100}.{k % 100:02d}" for c, k in zip(chunks, cents, strict=False)
        )
        total = sum(int(a) * 100 + int(b) for a, b in re.findall(r"\$(\d+)\.(\d\d)", text))
        q = (
            f"What is the total of all the dollar amounts in this text?\n{text}\n"
            "Answer with the number only (e.g. 12.34)."
        )
        ans, kind = total / 100, "number"
    else:
        years = [rng.randint(1600, 2099) for _ in range(5)]
        text = (
            " ".join(f"{c} in {yr}" for c, yr in zip(chunks, years, strict=False))
            + " "
            + chunks[-1]
        )
        ans = ", ".join(re.findall(r"\b\d{4}\b", text))
        q = (
            f"List the four-digit years in this text in the order they appear:\n{text}\n"
            "Give them as a comma-separated list."
        )
        kind = "text"
    return task("regex", i, q, ans, kind, "regex_extraction", 1e-9 if kind == "number" else None)


@distinct
def dates(rng: random.Random, i: int) -> Task:
    base = dt.date(1950, 1, 1)
    d1 = base + dt.timedelta(days=rng.randint(0, 40000))
    v = i % 3
    ans: int | str
    if v == 0:
        d2 = d1 + dt.timedelta(days=rng.randint(30, 20000))
        q = f"How many days are there from {d1.isoformat()} to {d2.isoformat()}? {INT_ONLY}"
        ans, kind = (d2 - d1).days, "int"
    elif v == 1:
        q = (
            f"On which day of the week did (or will) {d1.strftime('%B')} {d1.day}, {d1.year} "
            "fall? Answer with the English weekday name only (e.g. Monday)."
        )
        ans, kind = d1.strftime("%A"), "text"
    else:
        k = rng.randint(10, 5000)
        q = f"What date is {k} days after {d1.isoformat()}? Answer in the format YYYY-MM-DD."
        ans, kind = (d1 + dt.timedelta(days=k)).isoformat(), "text"
    return task("dates", i, q, ans, kind, "date_arithmetic")


def shift(text: str, k: int) -> str:
    def move(c: str) -> str:
        for alpha in (string.ascii_lowercase, string.ascii_uppercase):
            if c in alpha:
                return alpha[(alpha.index(c) + k) % 26]
        return c

    return "".join(move(c) for c in text)


@distinct
def ciphers(rng: random.Random, i: int) -> Task:
    plain = sentence(rng, rng.randint(4, 9), punctuate=False)
    v = i % 3
    if v == 0:
        k = rng.randint(1, 25)
        q = (
            f"The following text was encrypted with a Caesar cipher that shifts each letter "
            f"{k} places forward in the alphabet (wrapping z to a): {shift(plain, k)}\n"
            "Decrypt it. Answer with the plain text only."
        )
        ans = plain
    elif v == 1:
        q = f"Apply ROT13 to the text: {plain}\nAnswer with the result only."
        ans = shift(plain, 13)
    else:
        k = rng.randint(1, 25)
        q = (
            f"Encrypt the text '{plain}' with a Caesar cipher that shifts each letter {k} "
            "places forward in the alphabet (wrapping z to a). Answer with the result only."
        )
        ans = shift(plain, k)
    return task("cipher", i, q, ans, "text", "ciphers")


@distinct
def dedup(rng: random.Random, i: int) -> Task:
    v = i % 3
    if v == 2:
        nums = [rng.randint(1, 60) for _ in range(rng.randint(15, 30))]
        q = (
            f"Remove the duplicates from this list of numbers and sort the rest in ascending "
            f"order: {', '.join(map(str, nums))}.\nGive the result as a comma-separated list."
        )
        return task("dedup", i, q, ", ".join(map(str, sorted(set(nums)))), "text", "dedup")
    words = [rng.choice(COMMON[:40]) for _ in range(rng.randint(15, 35))]
    listing = ", ".join(words)
    if v == 0:
        q = (
            f"Remove the duplicate words from this list, keeping the first occurrence of each "
            f"in its original order: {listing}.\nGive the result as a comma-separated list."
        )
        return task("dedup", i, q, ", ".join(dict.fromkeys(words)), "text", "dedup")
    else:
        q = f"How many distinct words are in this list: {listing}? {INT_ONLY}"
        return task("dedup", i, q, len(set(words)), "int", "dedup")


@distinct
def formatting(rng: random.Random, i: int) -> Task:
    v = i % 3
    if v == 0:
        cents = rng.randint(10**6, 10**11)
        value = f"{cents // 100}.{cents % 100:02d}"
        q = (
            f"Write the number {value} with commas as thousands separators and exactly two "
            "decimal places (e.g. 1,234,567.80). Answer with the formatted number only."
        )
        ans = f"{cents / 100:,.2f}"
    elif v == 1:
        nums = [rng.randint(0, 9999) for _ in range(rng.randint(4, 7))]
        width = rng.randint(5, 7)
        q = (
            f"Zero-pad each of these numbers to {width} digits: {', '.join(map(str, nums))}.\n"
            "Give the result as a comma-separated list."
        )
        ans = ", ".join(f"{k:0{width}d}" for k in nums)
    else:
        names = rng.sample(FIRST_NAMES, rng.randint(4, 6))
        scores = rng.sample(range(10, 100), len(names))
        rows = "\n".join(f"{a},{s}" for a, s in zip(names, scores, strict=False))
        ranked = sorted(zip(names, scores, strict=False), key=lambda p: -p[1])
        q = (
            f"Here is a table with the columns name,score:\n{rows}\nFormat it as a single line "
            "of 'name: score' entries sorted by score from highest to lowest and separated "
            "by ' | ' (e.g. Ann: 90 | Bob: 75). Answer with that line only."
        )
        ans = " | ".join(f"{a}: {s}" for a, s in ranked)
    return task("format", i, q, ans, "text", "formatting")
