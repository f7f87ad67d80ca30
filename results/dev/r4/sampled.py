"""(Written for the CODEXEC_THINK_FIRST switch, since replaced by --strategy; kept as run.) Issue 12 experiment: self-consistency, K solves decoded as one batch, majority answer.
Usage: python results/dev/r4/sampled.py OFFSET LIMIT OUT.jsonl K CODE(0/1) [THINK_FIRST]"""

import json
import os
import sys
import time

if len(sys.argv) > 6:
    os.environ["CODEXEC_THINK_FIRST"] = sys.argv[6]
os.environ.setdefault("CODEXEC_BATCHING", "1")

from agent import Agent  # noqa: E402
from benchmarks.scoring import score  # noqa: E402


def main() -> None:
    offset, limit, out, k, code = (
        sys.argv[1],
        sys.argv[2],
        sys.argv[3],
        int(sys.argv[4]),
        sys.argv[5],
    )
    tasks = [json.loads(line) for line in open("../shared/data/gsm8k-train-400.jsonl")]
    agent = Agent("local", code_execution=code == "1", samples=k, recheck=0, time_budget_s=180)
    with open(out, "a") as fh:
        for task in tasks[int(offset) : int(offset) + int(limit)]:
            t0 = time.monotonic()
            res = agent.run(task["question"])
            row = {
                "id": task["id"],
                "answer": task["answer"],
                "final": res.final_answer,
                "ok": score(task, res.final_answer),
                "t": round(time.monotonic() - t0, 1),
                "samples": res.samples,
                "votes": res.votes,
                "samples_ok": [score(task, s) for s in res.samples],
            }
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(row["id"], row["ok"], row["t"], row["samples"], flush=True)


main()
