"""Issue 12, round 7 (round 6's script with the candidates of strategies.py): the model in words, the default solve (solve first, `--recheck 4`) and
adaptive self-consistency (`--samples K`: rounds of 2, 4, 8 solves until the answers agree) on
the same tasks, in one run, with the time of each.
Usage: python results/dev/r7/run.py DATA OFFSET LIMIT K OUT.jsonl [MODES]
(MODES: a comma list of words, default, samplesK, crosscheck, sf (solve first, --recheck 0), natural, noshots, zeroshot (solve-first-zero-shot, --recheck 0), zsdefault (the same with --recheck 4); the first three by default.)"""

import json
import sys
import time
from pathlib import Path

from agent import Agent
from benchmarks.scoring import score

sys.path.insert(0, str(Path(__file__).parent))
from strategies import Natural, NoShots  # noqa: E402


def main() -> None:
    data, out = sys.argv[1], sys.argv[5]
    offset, limit, k = (int(a) for a in sys.argv[2:5])
    tasks = [json.loads(line) for line in open(data)][offset : offset + limit]
    agents = {
        "words": Agent("local", code_execution=False, recheck=0),
        "default": Agent("local"),
        f"samples{k}": Agent("local", samples=k, recheck=0),
        "crosscheck": Agent("local", recheck=k, crosscheck=True),
        "sf": Agent("local", recheck=0),
        "natural": Agent("local", recheck=0, strategy=Natural()),
        "noshots": Agent("local", recheck=0, strategy=NoShots()),
        "zeroshot": Agent("local", recheck=0, strategy="solve-first-zero-shot"),
        "zsdefault": Agent("local", strategy="solve-first-zero-shot"),
    }
    chosen = sys.argv[6].split(",") if len(sys.argv) > 6 else list(agents)[:3]
    agents = {mode: agents[mode] for mode in chosen}
    done = set()
    try:
        done = {json.loads(line)["id"] for line in open(out)}
    except FileNotFoundError:
        pass
    with open(out, "a") as fh:
        for task in tasks:
            if task["id"] in done:
                continue
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
            summary = {m: (row[m + "_ok"], row["t_" + m], len(row[m + "_samples"])) for m in agents}
            print(row["id"], summary, flush=True)


main()
