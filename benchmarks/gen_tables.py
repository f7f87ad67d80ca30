"""CSV and JSON aggregation tasks: the data ship as files (and inline in the question when small)."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict

from benchmarks.gen_task import Task, task
from benchmarks.words import DEPARTMENTS, FIRST_NAMES, PRODUCTS, REGIONS

INT_ONLY = "Answer with the integer only."
SIX = "Give the answer as a decimal number to 6 significant digits."
SURNAMES = (
    "Smith Novak Okafor Tanaka Silva Meyer Rossi Dubois Kowalski Larsen Haddad Ivanova".split()
)
INLINE_MAX_ROWS = 15

Files = dict[str, str]


def intro(name: str, content: str, rows: int, what: str) -> str:
    if rows <= INLINE_MAX_ROWS:
        return f"The file {name} ({what}) contains:\n```\n{content.rstrip()}\n```\n"
    return f"The attached file {name} holds {what} ({rows} rows).\n"


def sales_rows(rng: random.Random, k: int) -> list[dict]:
    return [
        {
            "order_id": 1000 + j,
            "region": rng.choice(REGIONS),
            "product": rng.choice(PRODUCTS),
            "units": rng.randint(1, 60),
            "unit_price_cents": rng.randint(199, 9999),
        }
        for j in range(k)
    ]


def sales_csv(rows: list[dict]) -> str:
    lines = ["order_id,region,product,units,unit_price"]
    for r in rows:
        p = r["unit_price_cents"]
        lines.append(
            f"{r['order_id']},{r['region']},{r['product']},{r['units']},{p // 100}.{p % 100:02d}"
        )
    return "\n".join(lines) + "\n"


def csv_tasks(rng: random.Random, n: int, files: Files) -> list[Task]:
    tasks: list[Task] = []
    sizes = [10, 12, 15, 40, 60, 80]
    for f, k in enumerate(sizes):
        rows = sales_rows(rng, k)
        name = f"sales_{f + 1}.csv"
        files[name] = content = sales_csv(rows)
        head = intro(
            name,
            content,
            k,
            "sales orders with the columns order_id, region, product, units, unit_price",
        )
        units: Counter[str] = Counter()
        for r in rows:
            units[r["product"]] += r["units"]
        for v in rng.sample(range(4), 3):
            if len(tasks) >= n:
                return tasks
            i = len(tasks)
            if v == 0:
                region = rng.choice(sorted({r["region"] for r in rows}))
                cents = sum(
                    r["units"] * r["unit_price_cents"] for r in rows if r["region"] == region
                )
                q = f"What is the total revenue (sum of units * unit_price) of the {region} region? Answer with the number only (e.g. 1234.56)."
                tasks.append(
                    task(
                        "csv",
                        i,
                        head + q,
                        cents / 100,
                        "number",
                        "csv_aggregation",
                        1e-9,
                        files=[name],
                    )
                )
            elif v == 1:
                limit = rng.randint(10, 50)
                count = sum(r["units"] > limit for r in rows)
                q = f"How many orders have more than {limit} units? {INT_ONLY}"
                tasks.append(
                    task("csv", i, head + q, count, "int", "csv_aggregation", files=[name])
                )
            elif v == 2:
                (best, a), *rest = units.most_common()
                if rest and rest[0][1] == a:
                    continue
                q = "Which product has the largest total number of units over all orders? Answer with the product name only."
                tasks.append(
                    task("csv", i, head + q, best, "text", "csv_aggregation", files=[name])
                )
            else:
                product = rng.choice(sorted(units))
                prices = [r["unit_price_cents"] for r in rows if r["product"] == product]
                q = f"What is the average unit_price over the orders of the product {product}? {SIX}"
                value = sum(prices) / len(prices) / 100
                tasks.append(
                    task("csv", i, head + q, value, "number", "csv_aggregation", 1e-5, files=[name])
                )
    return tasks


def staff(rng: random.Random, k: int) -> list[dict]:
    names = rng.sample([f"{a} {b}" for a in FIRST_NAMES for b in SURNAMES], k)
    return [
        {
            "name": nm,
            "department": rng.choice(DEPARTMENTS),
            "salary": 1000 * rng.randint(30, 150),
            "age": rng.randint(21, 64),
        }
        for nm in names
    ]


def json_tasks(rng: random.Random, n: int, files: Files) -> list[Task]:
    tasks: list[Task] = []
    sizes = [8, 10, 25, 35, 50]
    for f, k in enumerate(sizes):
        rows = staff(rng, k)
        ages = [r["age"] for r in rows]
        while ages.count(max(ages)) > 1:  # the oldest person must be unique
            rows[ages.index(max(ages))]["age"] -= 1
            ages = [r["age"] for r in rows]
        name = f"staff_{f + 1}.json"
        files[name] = content = "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"
        head = intro(
            name, content, k, "a JSON list of employees with name, department, salary and age"
        )
        by_dept: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            by_dept[r["department"]].append(r["salary"])
        for v in rng.sample(range(4), 3):
            if len(tasks) >= n:
                return tasks
            i = len(tasks)
            dept = rng.choice(sorted(by_dept))
            if v == 0:
                q = f"What is the total salary of the {dept} department? {INT_ONLY}"
                tasks.append(
                    task(
                        "json",
                        i,
                        head + q,
                        sum(by_dept[dept]),
                        "int",
                        "json_aggregation",
                        files=[name],
                    )
                )
            elif v == 1:
                oldest = max(rows, key=lambda r: r["age"])["name"]
                q = "What is the name of the oldest employee? Answer with the full name only."
                tasks.append(
                    task("json", i, head + q, oldest, "text", "json_aggregation", files=[name])
                )
            elif v == 2:
                age, pay = rng.randint(30, 50), 1000 * rng.randint(50, 110)
                count = sum(r["age"] > age and r["salary"] > pay for r in rows)
                q = f"How many employees are older than {age} and earn a salary above {pay}? {INT_ONLY}"
                tasks.append(
                    task("json", i, head + q, count, "int", "json_aggregation", files=[name])
                )
            else:
                value = sum(by_dept[dept]) / len(by_dept[dept])
                q = f"What is the average salary in the {dept} department? {SIX}"
                tasks.append(
                    task(
                        "json", i, head + q, value, "number", "json_aggregation", 1e-5, files=[name]
                    )
                )
    return tasks
