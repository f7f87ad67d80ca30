"""With code (greedy), without code (greedy) and the cross-check, from one --crosscheck run."""
import json, sys, statistics
sys.path.insert(0, "/work/main")
from benchmarks.scoring import score as _score
def score_task(t, a): return bool(_score(t, a))

tasks = {json.loads(l)["id"]: json.loads(l) for l in open("/work/shared/data/gsm8k-train-400.jsonl")}
rows = [json.loads(l) for l in open(sys.argv[1])]
n = len(rows)
code = nocode = cross = either = 0
times = []
for r in rows:
    t = tasks[r["id"]]
    s = r["samples"] or [r["final_answer"]]
    c = score_task(t, s[0]); w = score_task(t, s[1]) if len(s) > 1 else False
    code += c; nocode += w; cross += r["correct"]; either += c or w
    times.append(r["duration_s"])
    flag = "" if c == r["correct"] else (" FIXED" if r["correct"] else " BROKE")
    print(f'{r["id"]} code={c:d} words={w:d} cross={r["correct"]:d} {r["duration_s"]:7.1f}s n={len(s)}{flag}')
print(f"n={n} code {code} words {nocode} crosscheck {cross} either {either}; mean {statistics.mean(times):.1f}s median {statistics.median(times):.1f}s")
