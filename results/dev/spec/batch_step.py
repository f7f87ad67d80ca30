"""K sequences decoded in one llama.cpp batch (agent.models.local_batch) against one: the cost of a
batch step on this machine. Usage: CODEXEC_BATCHING=0 python results/dev/spec/batch_step.py"""
import time, statistics
from llama_cpp import Llama
from agent.models.local_batch import sample_continuations
from agent.models.local_runtime import _threads
from agent.weights import model_path
import llama_cpp
from agent.models.local_runtime import _load; llm = _load("1.5b").llm
prompt = llm.tokenize(b"<|im_start|>user\nWrite a long story about a lighthouse keeper.<|im_end|>\n<|im_start|>assistant\n", add_bos=False, special=True)
for n in (1, 2, 4, 1, 2, 4):
    t = time.perf_counter()
    out = sample_continuations(llm, prompt, n, max_tokens=64, temperature=0.8, seed=1, stop=lambda s: False)
    dt = time.perf_counter() - t
    toks = sum(len(c.tokens) for c in out)
    print(f"n={n} tokens={toks} {dt:.2f}s aggregate {toks/dt:.1f} tok/s, per-step {dt/max(len(c.tokens) for c in out)*1000:.0f} ms", flush=True)
