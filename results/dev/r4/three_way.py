"""Issue 12 experiment: words, code first and solve-first on the same GSM8K-train
tasks, in one run (the run used the CODEXEC_THINK_FIRST=3 switch that became
--strategy solve-first). Usage: python results/dev/r4/three_way.py OFFSET LIMIT OUT.jsonl"""

import json
import sys
import time

from agent import Agent
from benchmarks.scoring import score


def main() -> None:
    offset, limit, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    tasks = [json.loads(line) for line in open("../shared/data/gsm8k-train-400.jsonl")]
    words = Agent("local", code_execution=False, recheck=0, time_budget_s=120)
    coder = Agent("local", recheck=0, time_budget_s=120, strategy="code-first")
    solver = Agent("local", recheck=0, time_budget_s=120, strategy="solve-first")
    with open(out, "a") as fh:
        for task in tasks[offset : offset + limit]:
            row = {"id": task["id"], "answer": task["answer"]}
            for mode, agent in [("words", words), ("code", coder), ("solve_first", solver)]:
                t0 = time.monotonic()
                res = agent.run(task["question"])
                row[mode] = res.final_answer
                row[mode + "_ok"] = score(task, res.final_answer)
                row["t_" + mode] = round(time.monotonic() - t0, 1)
                row[mode + "_parts"] = [p.model_dump() for p in res.parts]
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(
                row["id"],
                row["words_ok"],
                row["code_ok"],
                row["solve_first_ok"],
                row["t_words"],
                row["t_code"],
                row["t_solve_first"],
                flush=True,
            )


main()
