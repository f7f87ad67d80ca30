"""Issue 17 experiment: llama-cpp-python's prompt-lookup speculative decoding against plain greedy
decoding on the embedded 1.5B, the solve-first prompt and GSM8K-train questions; same outputs?
Usage: python results/dev/spec/prompt_lookup.py N_QUESTIONS [NUM_PRED ...]"""

import json
import statistics
import sys
import time

from llama_cpp import Llama
from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

from agent.models.fenced import CHATML_STOP
from agent.models.local import LocalModel, local_strategy
from agent.models.local_runtime import _threads
from agent.parts import Message
from agent.weights import model_path


def prompts(n: int) -> list[str]:
    rows = [json.loads(line) for line in open("../shared/data/gsm8k-train-400.jsonl")][200 : 200 + n]
    model, strategy = LocalModel(), local_strategy()
    out = []
    for row in rows:
        p = strategy.prompt([Message.user(row["question"])], code_execution=True)
        out.append(model.render(p.system, p.history))
    return out


def run(llm: Llama, texts: list[str]) -> list[tuple[str, int, float]]:
    llm.create_completion(texts[0], max_tokens=1, temperature=0)  # the shared prefix, once
    results = []
    for text in texts:
        start = time.perf_counter()
        r = llm.create_completion(text, max_tokens=300, temperature=0, repeat_penalty=1.0, stop=CHATML_STOP)
        results.append((r["choices"][0]["text"], r["usage"]["completion_tokens"], time.perf_counter() - start))
    return results


def main() -> None:
    n = int(sys.argv[1])
    preds = [int(a) for a in sys.argv[2:]] or [10]
    texts = prompts(n)
    path, threads = str(model_path("1.5b")), _threads()
    plain = run(Llama(model_path=path, n_ctx=4096, n_threads=threads, verbose=False), texts)
    base_tps = [k / s for _, k, s in plain]
    print(f"plain: median {statistics.median(base_tps):.1f} tok/s, mean tokens {statistics.mean(k for _, k, _ in plain):.0f}")
    for k in preds:
        draft = LlamaPromptLookupDecoding(num_pred_tokens=k)
        spec = run(Llama(model_path=path, n_ctx=4096, n_threads=threads, verbose=False, draft_model=draft, logits_all=True), texts)
        same = sum(a[0] == b[0] for a, b in zip(plain, spec, strict=True))
        ratio = [s[2] / p[2] for p, s in zip(plain, spec, strict=True)]
        print(f"prompt lookup {k}: same output {same}/{n}, time ratio median {statistics.median(ratio):.2f} "
              f"(per question {[round(r, 2) for r in ratio]})")


main()
