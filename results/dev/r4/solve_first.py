"""(Written for the CODEXEC_THINK_FIRST switch, since replaced by --strategy; kept as run.) Issue 12 experiment: one generation that solves in words, then codes the same steps
(CODEXEC_THINK_FIRST=3). Usage: python results/dev/r4/solve_first.py OFFSET LIMIT OUT.jsonl [MODE]"""

import json
import os
import sys
import time

os.environ["CODEXEC_THINK_FIRST"] = sys.argv[4] if len(sys.argv) > 4 else "3"

from agent import Agent  # noqa: E402
from benchmarks.scoring import score  # noqa: E402


def main() -> None:
    offset, limit, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    tasks = [json.loads(line) for line in open("../shared/data/gsm8k-train-400.jsonl")]
    agent = Agent("local", recheck=0, time_budget_s=120)
    with open(out, "a") as fh:
        for task in tasks[offset : offset + limit]:
            t0 = time.monotonic()
            res = agent.run(task["question"])
            row = {
                "id": task["id"],
                "answer": task["answer"],
                "final": res.final_answer,
                "ok": score(task, res.final_answer),
                "t": round(time.monotonic() - t0, 1),
                "parts": [p.model_dump() for p in res.parts],
            }
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(row["id"], row["ok"], row["t"], flush=True)


main()
