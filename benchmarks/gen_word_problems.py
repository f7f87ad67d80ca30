"""GSM8K-style word problems written by templates; the answer is computed from the drawn numbers."""

from __future__ import annotations

import math
import random

from benchmarks.gen_task import Task, task
from benchmarks.words import FIRST_NAMES

INT_ONLY = "Answer with the integer only."


def shop(rng: random.Random, name: str) -> tuple[str, int]:
    p1, p2, q1, q2 = rng.randint(3, 19), rng.randint(2, 9), rng.randint(3, 14), rng.randint(4, 25)
    total = p1 * q1 + p2 * q2
    bill = (total // 50 + 1) * 50 + rng.choice([0, 50, 100])
    q = (
        f"A stationery shop sells notebooks for ${p1} each and pens for ${p2} each. {name} buys "
        f"{q1} notebooks and {q2} pens and pays with ${bill}. How many dollars of change does "
        f"{name} get?"
    )
    return q, bill - total


def factory(rng: random.Random, name: str) -> tuple[str, int]:
    a, b, h, weeks = (
        rng.randint(30, 140),
        rng.randint(10, 60),
        rng.randint(6, 12),
        rng.randint(2, 9),
    )
    q = (
        f"{name}'s workshop makes {a} widgets per hour on weekdays and {b} widgets per hour on "
        f"Saturdays and Sundays, running {h} hours every day. How many widgets does it make in "
        f"{weeks} full weeks?"
    )
    return q, weeks * (5 * a * h + 2 * b * h)


def discount(rng: random.Random, name: str) -> tuple[str, int]:
    # price a multiple of 20 and d of 5: the final price is a whole number of cents
    price, d, tax = (
        20 * rng.randint(1, 20),
        rng.choice([10, 15, 20, 25, 30, 35]),
        rng.randint(3, 12),
    )
    cents = price * (100 - d) * (100 + tax) // 100
    q = (
        f"A jacket costs ${price}. {name} gets a {d}% discount, and then a {tax}% sales tax is "
        "added to the discounted price. How many cents does the jacket cost in the end?"
    )
    return q, cents


def ages(rng: random.Random, name: str) -> tuple[str, int]:
    other = rng.choice([n for n in FIRST_NAMES if n != name])
    young, gap, years = rng.randint(4, 40), rng.randint(2, 30), rng.randint(3, 25)
    total = (young + years) + (young + gap + years)
    q = (
        f"{name} is {gap} years older than {other}. In {years} years, the sum of their ages "
        f"will be {total}. How old is {other} now?"
    )
    return q, young


def train(rng: random.Random, name: str) -> tuple[str, int]:
    v1, v2 = 5 * rng.randint(8, 30), 5 * rng.randint(8, 30)
    t1, t2 = 12 * rng.randint(2, 15), 12 * rng.randint(2, 15)
    d1, d2 = v1 * t1 // 60, v2 * t2 // 60
    stop = rng.randint(5, 40)
    q = (
        f"{name} takes a train that travels {d1} km at {v1} km/h, stops for {stop} minutes, "
        f"then travels {d2} km at {v2} km/h. How many minutes does the whole trip take?"
    )
    return q, t1 + stop + t2


def savings(rng: random.Random, name: str) -> tuple[str, int]:
    first, step, weeks = rng.randint(2, 40), rng.randint(1, 9), rng.randint(10, 52)
    q = (
        f"{name} saves ${first} in the first week and each week saves ${step} more than the week "
        f"before. How many dollars has {name} saved in total after {weeks} weeks?"
    )
    return q, sum(first + step * k for k in range(weeks))


def recipe(rng: random.Random, name: str) -> tuple[str, int]:
    batch, flour, bag = (
        rng.choice([12, 16, 20, 24, 30]),
        rng.randint(150, 600),
        rng.choice([500, 1000, 2000]),
    )
    cookies = batch * rng.randint(5, 40)
    grams = flour * cookies // batch
    q = (
        f"A recipe for {batch} cookies uses {flour} g of flour. {name} wants to bake {cookies} "
        f"cookies. Flour is sold in {bag} g bags. How many bags must {name} buy?"
    )
    return q, math.ceil(grams / bag)


def warehouse(rng: random.Random, name: str) -> tuple[str, int]:
    k = rng.choice([2, 3, 4, 5])
    stock, pct = 20 * rng.randint(20, 150), rng.choice([10, 20, 25, 40, 50])
    left = stock * (100 - pct) // 100
    arrive = rng.randint(1, 40) * k - left % k + k
    now = left + arrive
    q = (
        f"A warehouse managed by {name} holds {stock} boxes. On Monday {pct}% of them are "
        f"shipped. On Tuesday {arrive} boxes arrive. On Wednesday 1/{k} of the boxes then in "
        "stock are shipped. How many boxes are left?"
    )
    return q, now - now // k


TEMPLATES = [shop, factory, discount, ages, train, savings, recipe, warehouse]


def word_problems(rng: random.Random, n: int) -> list[Task]:
    tasks = []
    for i in range(n):
        question, answer = TEMPLATES[i % len(TEMPLATES)](rng, rng.choice(FIRST_NAMES))
        tasks.append(task("word", i, f"{question} {INT_ONLY}", answer, "int", "word_problems"))
    return tasks
