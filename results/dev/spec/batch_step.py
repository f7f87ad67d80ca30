"""K sequences decoded in one llama.cpp batch (agent.models.local_batch) against one: the cost
of a batch step on this machine. Usage: CODEXEC_BATCHING=0 python results/dev/spec/batch_step.py"""

import time

from agent.models.local_batch import sample_continuations
from agent.models.local_runtime import _load

llm = _load("1.5b").llm
story = "<|im_start|>user\nWrite a long story about a lighthouse keeper.<|im_end|>\n"
prompt = llm.tokenize((story + "<|im_start|>assistant\n").encode(), add_bos=False, special=True)
for n in (1, 2, 4, 1, 2, 4):
    start = time.perf_counter()
    out = sample_continuations(
        llm, prompt, n, max_tokens=64, temperature=0.8, seed=1, stop=lambda s: False
    )
    seconds = time.perf_counter() - start
    tokens = sum(len(c.tokens) for c in out)
    steps = max(len(c.tokens) for c in out)
    print(
        f"n={n} tokens={tokens} {seconds:.2f}s aggregate {tokens / seconds:.1f} tok/s, "
        f"per-step {seconds / steps * 1000:.0f} ms",
        flush=True,
    )
