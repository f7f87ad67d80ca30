"""Issue 12 experiment: reason in words first, then translate the reasoning into code.

For each task, in one run with the embedded model: (a) the answer without code (step-by-step
reasoning), (b) that same reasoning followed by a request to carry its steps out in Python, the
answer taken from the code's output, (c) the default code-first solve. Usage:
  python results/dev/r4/experiment.py OFFSET LIMIT OUT.jsonl
"""

import json
import re
import sys
import time

from agent import Agent
from agent.parts import Message, TextPart
from benchmarks.scoring import score

TRANSLATE = (
    "Now check your solution with Python: write ONE ```python block that carries out the steps "
    "of your solution above, one variable per quantity, computing every step (do not copy your "
    "results), and prints the answer to the question."
)


def main() -> None:
    offset, limit, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    tasks = [json.loads(line) for line in open("../shared/data/gsm8k-train-400.jsonl")]
    tasks = tasks[offset : offset + limit]
    words = Agent("local", code_execution=False, recheck=0, time_budget_s=120)
    coder = Agent("local", recheck=0, time_budget_s=120, max_steps=4)
    default = Agent("local", recheck=0, time_budget_s=120)
    with open(out, "a") as fh:
        for task in tasks:
            q = task["question"]
            t0 = time.monotonic()
            plain = words.run(q)
            t1 = time.monotonic()
            reasoning = re.sub(
                r"(?im)^.*final answer:.*$", "", plain.parts[-1].text if plain.parts else ""
            ).strip()
            history = [
                Message.user(q),
                Message(role="model", parts=[TextPart(text=reasoning)]),
                Message.user(TRANSLATE),
            ]
            tr = coder.run(history)
            t2 = time.monotonic()
            dc = default.run(q)
            t3 = time.monotonic()
            row = {
                "id": task["id"],
                "answer": task["answer"],
                "words": plain.final_answer,
                "words_ok": score(task, plain.final_answer),
                "translated": tr.final_answer,
                "translated_ok": score(task, tr.final_answer),
                "code": dc.final_answer,
                "code_ok": score(task, dc.final_answer),
                "t_words": round(t1 - t0, 1),
                "t_translate": round(t2 - t1, 1),
                "t_code": round(t3 - t2, 1),
                "reasoning": reasoning,
                "translated_parts": [p.model_dump() for p in tr.parts],
                "code_parts": [p.model_dump() for p in dc.parts],
            }
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            print(
                row["id"],
                row["words_ok"],
                row["translated_ok"],
                row["code_ok"],
                row["t_words"],
                row["t_translate"],
                row["t_code"],
                flush=True,
            )


main()
