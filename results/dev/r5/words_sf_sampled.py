"""Issue 12: without code, solve first (greedy) and solve first with self-consistency (K
solves, the first answers decoded as one batch) on the same tasks, in one run.
Usage: python results/dev/r5/words_sf_sampled.py DATA OFFSET LIMIT K OUT.jsonl"""

import json
import sys
import time

from agent import Agent
from benchmarks.scoring import score


def main() -> None:
    data, offset, limit, k, out = (
        sys.argv[1],
        int(sys.argv[2]),
        int(sys.argv[3]),
        int(sys.argv[4]),
        sys.argv[5],
    )
    tasks = [json.loads(line) for line in open(data)]
    agents = {
        "words": Agent("local", code_execution=False, recheck=0, time_budget_s=180),
        "solve_first": Agent("local", recheck=0, time_budget_s=180),
        f"sampled{k}": Agent("local", recheck=0, samples=k, time_budget_s=300),
    }
    with open(out, "a") as fh:
        for task in tasks[offset : offset + limit]:
            row = {"id": task["id"], "answer": task["answer"]}
            for mode, agent in agents.items():
                t0 = time.monotonic()
                res = agent.run(task["question"])
                row[mode] = res.final_answer
                row[mode + "_ok"] = score(task, res.final_answer)
                row["t_" + mode] = round(time.monotonic() - t0, 1)
                row[mode + "_samples"] = res.samples
                row[mode + "_parts"] = [p.model_dump() for p in res.parts]
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(
                row["id"],
                {m: (row[m + "_ok"], row["t_" + m]) for m in agents},
                row[f"sampled{k}_samples"],
                flush=True,
            )


main()
