"""Relative-date questions that state their own "today": the answer must come from the date the
question gives, never from the machine's clock (a model that calls `date.today()` fails them).

Variants: yesterday / tomorrow, N days or weeks ago or ahead, hours from a stated moment, whole
years since a birthday (anniversaries), the last day of a month, and leap days. Answers are
computed with `datetime`, as the other suites compute theirs.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random

from benchmarks.gen_task import Task, distinct, task

DATE_FORMAT = "Answer in the format YYYY-MM-DD."
INT_ONLY = "Answer with the integer only."


def spoken(d: dt.date) -> str:
    return f"{d.strftime('%A')}, {d.strftime('%B')} {d.day}, {d.year}"


def _today(rng: random.Random) -> dt.date:
    return dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 16000))


@distinct
def relative_dates(rng: random.Random, i: int) -> Task:
    today = _today(rng)
    v = i % 7
    ans: int | str
    if v == 0:
        _, step = rng.choice([("yesterday", -1), ("tomorrow", 1)])
        asked = "What date was it yesterday?" if step < 0 else "What date will it be tomorrow?"
        q = f"Today is {spoken(today)}. {asked} {DATE_FORMAT}"
        ans, kind = (today + dt.timedelta(days=step)).isoformat(), "text"
    elif v == 1:
        n, unit = rng.choice([(rng.randint(2, 60), "days"), (rng.randint(1, 12), "weeks")])
        days = n * (7 if unit == "weeks" else 1)
        label = "one week" if (n, unit) == (1, "weeks") else f"{n} {unit}"
        if rng.random() < 0.5:
            q = f"Today is {spoken(today)}. What was the date {label} ago? {DATE_FORMAT}"
            ans = (today - dt.timedelta(days=days)).isoformat()
        else:
            q = f"Today is {spoken(today)}. What will the date be {label} from today? {DATE_FORMAT}"
            ans = (today + dt.timedelta(days=days)).isoformat()
        kind = "text"
    elif v == 2:
        now = dt.datetime.combine(today, dt.time(rng.randint(0, 23), rng.choice([0, 15, 30, 45])))
        hours = rng.choice([12, 18, 30, 36, 48, 60, 72, 100])
        q = (
            f"It is {now.strftime('%H:%M')} on {spoken(today)}. What date and time will it be "
            f"{hours} hours from now? Answer in the format YYYY-MM-DD HH:MM (24-hour clock)."
        )
        ans, kind = (now + dt.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M"), "text"
    elif v == 3:
        born = today.replace(year=today.year - rng.randint(5, 80)) + dt.timedelta(
            days=rng.randint(-200, 200)
        )
        if born.month == 2 and born.day == 29:
            born = born.replace(day=28)
        name = rng.choice(["Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo"])
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        q = (
            f"{name} was born on {spoken(born)}. Today is {spoken(today)}. "
            f"How old is {name} today, in whole years? {INT_ONLY}"
        )
        ans, kind = age, "int"
    elif v == 4:
        ahead = rng.choice([0, 1, 2])
        month_index = today.month - 1 + ahead
        year, month = today.year + month_index // 12, month_index % 12 + 1
        last = dt.date(year, month, calendar.monthrange(year, month)[1])
        which = ["this month", "next month", "the month after next"][ahead]
        q = f"Today is {spoken(today)}. What is the last day of {which}? {DATE_FORMAT}"
        ans, kind = last.isoformat(), "text"
    elif v == 5:
        year = rng.choice([y for y in range(1992, 2040) if calendar.isleap(y)])
        start = dt.date(year, 2, rng.randint(20, 28))
        days = rng.randint(2, 12)
        q = f"Today is {spoken(start)}. What will the date be in {days} days? {DATE_FORMAT}"
        ans, kind = (start + dt.timedelta(days=days)).isoformat(), "text"
    else:
        n = rng.randint(3, 40)
        tomorrow = today + dt.timedelta(days=1)
        q = f"Tomorrow is {spoken(tomorrow)}. What was the date {n} days ago? {DATE_FORMAT}"
        ans, kind = (today - dt.timedelta(days=n)).isoformat(), "text"
    return task("reldates", i, q, ans, kind, "relative_dates")
