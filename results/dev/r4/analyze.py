import json
import sys
from collections import Counter

from agent.vote import answer_key
from benchmarks.scoring import score

rows = [json.loads(line) for line in open(sys.argv[1])]
n = len(rows)


def vote(r, order):
    keys = [answer_key(r[k] or "") for k in order]
    c = Counter(k for k in keys if k)
    if not c:
        return ""
    best = max(c.values())
    for k, name in zip(keys, order, strict=True):
        if k and c[k] == best:
            return r[name]


tot = Counter()
for r in rows:
    task = {"answer": r["answer"], "kind": "int"}
    for name in ["words", "translated", "code"]:
        tot[name] += bool(r[name + "_ok"])
    for order in [
        ("translated", "words", "code"),
        ("code", "translated", "words"),
        ("words", "translated", "code"),
    ]:
        tot["vote:" + ",".join(order)] += bool(score(task, vote(r, order)))
    # agree: words == translated -> that; else code
    a = r["translated"] if answer_key(r["words"]) == answer_key(r["translated"]) else r["code"]
    tot["agree-else-code"] += bool(score(task, a))
    tot["any"] += bool(r["words_ok"] or r["translated_ok"] or r["code_ok"])
for k, v in tot.items():
    print(f"{k:40} {v}/{n}")
for k in ["t_words", "t_translate", "t_code"]:
    print(k, round(sum(r[k] for r in rows) / n, 1))
