"""K continuations of one prompt, decoded together in one llama.cpp batch.

The prompt is evaluated once (in sequence 0, reusing what its KV cache already holds), copied
to sequences 1..K-1 (llama.cpp shares the cells, nothing is recomputed), and then every step
decodes the K newest tokens as one batch. On a CPU the weights are read once per step for all
K rows, so K sequences cost far less than K times one (measured: `benchmarks model`).

Sequence 0 is greedy; the others sample with their own seed. Afterwards only the prompt stays in
sequence 0, so the high-level `Llama` API continues from its cache as before.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.models.prefix_cache import evaluate_prefix

TOP_K = 40
TOP_P = 0.95


@dataclass
class Continuation:
    tokens: list[int]
    text: str
    finish: str  # "STOP" (end of turn or a stop condition) | "MAX_TOKENS"


StopCheck = Callable[[str], bool]  # the text so far -> stop this sequence now


def sample_continuations(
    llm: object,
    prompt: list[int],
    n: int,
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    stop: StopCheck,
    cancelled: Callable[[], bool] = lambda: False,
    greedy_first: bool = True,
) -> list[Continuation]:
    """Decode `n` continuations of `prompt` together (the first greedy unless not
    `greedy_first`, sequence i sampled with seed + i); `stop(text)` ends one early,
    `cancelled()` (checked before every step) all of them."""
    import llama_cpp

    ctx = llm._ctx.ctx  # type: ignore[attr-defined]
    mem = llama_cpp.llama_get_memory(ctx)
    n_vocab = llm.n_vocab()  # type: ignore[attr-defined]
    end_tokens = _end_tokens(llm)
    last = len(prompt) - 1
    evaluate_prefix(llm, prompt[:last])
    for seq in range(1, n):
        llama_cpp.llama_memory_seq_rm(mem, seq, -1, -1)
        llama_cpp.llama_memory_seq_cp(mem, 0, seq, -1, -1)

    rngs = [np.random.default_rng(seed + seq) for seq in range(n)]
    outs = [Continuation([], "", "MAX_TOKENS") for _ in range(n)]
    active = list(range(n))
    feed = {seq: prompt[last] for seq in range(n)}
    batch = llama_cpp.llama_batch_init(n, 0, n)
    decoded = False  # whether sequence 0 holds the prompt's last token (an aborted decode drops it)
    try:
        for step in range(max_tokens + 1):
            if not active or cancelled():
                break
            _fill(batch, [(feed[seq], last + step, seq) for seq in active])
            if llama_cpp.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed on a batch of continuations")
            decoded = True
            if step == max_tokens:
                break
            still = []
            for row, seq in enumerate(active):
                ptr = llama_cpp.llama_get_logits_ith(ctx, row)
                logits = np.ctypeslib.as_array(
                    ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,)
                )
                greedy = seq == 0 and greedy_first
                token = _pick(logits, 0.0 if greedy else temperature, rngs[seq])
                out = outs[seq]
                if token in end_tokens:
                    out.finish = "STOP"
                    continue
                out.tokens.append(token)
                out.text = llm.detokenize(out.tokens).decode("utf-8", errors="ignore")  # type: ignore[attr-defined]
                if stop(out.text):
                    out.finish = "STOP"
                    continue
                feed[seq] = token
                still.append(seq)
            active = still
    finally:
        llama_cpp.llama_batch_free(batch)
        for seq in range(1, n):
            llama_cpp.llama_memory_seq_rm(mem, seq, -1, -1)
        kept = last + 1 if decoded else last
        llama_cpp.llama_memory_seq_rm(mem, 0, kept, -1)
        llm.input_ids[last] = prompt[last]  # type: ignore[attr-defined]
        llm.n_tokens = kept  # type: ignore[attr-defined]
    return outs


def _fill(batch: object, rows: list[tuple[int, int, int]]) -> None:
    batch.n_tokens = len(rows)  # type: ignore[attr-defined]
    for i, (token, pos, seq) in enumerate(rows):
        batch.token[i] = token  # type: ignore[attr-defined]
        batch.pos[i] = pos  # type: ignore[attr-defined]
        batch.n_seq_id[i] = 1  # type: ignore[attr-defined]
        batch.seq_id[i][0] = seq  # type: ignore[attr-defined]
        batch.logits[i] = True  # type: ignore[attr-defined]


def _pick(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    if temperature <= 0:
        return int(np.argmax(logits))
    top = np.argpartition(logits, -TOP_K)[-TOP_K:]
    top = top[np.argsort(logits[top])[::-1]]
    scaled = logits[top].astype(np.float64) / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    keep = int(np.searchsorted(np.cumsum(probs), TOP_P)) + 1
    probs = probs[:keep] / probs[:keep].sum()
    return int(top[rng.choice(keep, p=probs)])


def _end_tokens(llm: object) -> set[int]:
    import llama_cpp

    ends = {llm.token_eos()}  # type: ignore[attr-defined]
    vocab = llama_cpp.llama_model_get_vocab(llm.model)  # type: ignore[attr-defined]
    if vocab is not None and (eot := llama_cpp.llama_vocab_eot(vocab)) >= 0:
        ends.add(eot)  # the end of a turn (Llama 3's <|eot_id|>, ...)
    for special in ("<|im_end|>", "<|endoftext|>", "<|im_start|>"):
        ids = llm.tokenize(special.encode(), add_bos=False, special=True)  # type: ignore[attr-defined]
        if len(ids) == 1:
            ends.add(ids[0])
    return ends
