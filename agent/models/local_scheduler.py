"""Continuous batching for the local model: concurrent generations share one llama.cpp context
and advance together, one token of every running sequence per decode.

On a CPU a decode step reads all the weights once however many rows it has, so four sequences
stepping together cost little more than one. Each generation gets a sequence (a slot) of its
own; its prompt starts as a copy of the longest matching prefix already in the cache (the
worked examples in sequence 0, or an earlier turn of the same solve left in a slot), so only
the rest is evaluated, in chunks that ride along with the other sequences' tokens. A finished
slot keeps its cache for the next turn until the space is needed.

The scheduler thread takes the model's lock for each step only, so the other users of the model
(the prefix cache, self-consistency batches) run between two steps. Sequences below
`first_seq` are theirs and never touched here.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.models.local_batch import _end_tokens, _pick

log = logging.getLogger("codexec.local")

PREFILL_CHUNK = 256  # prompt tokens of one sequence evaluated per step
DONE = None  # the last item of a request's queue


@dataclass
class Request:
    """One generation. Its text arrives in `pieces` (strings, then DONE); `cancel()` stops it."""

    tokens: list[int]
    max_tokens: int
    temperature: float
    seed: int
    pieces: queue.Queue[str | None] = field(default_factory=queue.Queue)
    finish: str = "MAX_TOKENS"  # "STOP" at an end-of-turn token
    error: str | None = None
    generated: list[int] = field(default_factory=list)
    reused: int = 0  # prompt tokens found in the cache
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _slot: Slot | None = None
    _next: int | None = None  # the sampled token to feed next
    _text: str = ""

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


@dataclass
class Slot:
    seq: int
    tokens: list[int] = field(default_factory=list)  # what this sequence's cache holds
    request: Request | None = None
    used: float = 0.0

    @property
    def prefilling(self) -> bool:
        return self.request is not None and len(self.tokens) < len(self.request.tokens)


class Scheduler:
    def __init__(self, loaded: Any, first_seq: int, n_slots: int) -> None:
        import llama_cpp

        self.loaded = loaded
        self.llm = loaded.llm
        self.ctx = self.llm._ctx.ctx
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.n_vocab = self.llm.n_vocab()
        self.n_batch = int(self.llm.n_batch)
        self.end_tokens = _end_tokens(self.llm)
        self.slots = [Slot(first_seq + i) for i in range(n_slots)]
        self.pending: list[Request] = []
        self.wake = threading.Condition()
        self.rngs: dict[int, np.random.Generator] = {}
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self.steps = 0  # decodes made (for tests and logs)
        self.max_rows = 0  # the most sequences decoded in one step
        threading.Thread(target=self._serve, name="codexec-batch", daemon=True).start()

    def submit(
        self, tokens: list[int], *, max_tokens: int, temperature: float, seed: int
    ) -> Request:
        if not tokens:
            raise ValueError("an empty prompt")
        request = Request(list(tokens), max_tokens, temperature, seed)
        with self.wake:
            self.pending.append(request)
            self.wake.notify()
        return request

    def holds(self, tokens: list[int]) -> bool:
        """Whether a slot's cache starts with `tokens` (call with the model's lock held)."""
        return any(common_length(slot.tokens, tokens) == len(tokens) for slot in self.slots)

    def _serve(self) -> None:
        while True:
            with self.wake:
                while not self.pending and not any(s.request for s in self.slots):
                    self.wake.wait()
            with self.loaded.lock:
                if self.loaded.stopped():  # the process is exiting
                    self._fail_all("the model is closing")
                    return
                try:
                    self._step()
                except Exception as exc:  # a llama.cpp failure ends every running request
                    if self.loaded.stopped():  # the decode was aborted: Ctrl-C, or we exit
                        self._fail_all("the model is closing")
                        return
                    log.exception("batched decoding failed")
                    self._fail_all(f"{type(exc).__name__}: {exc}")

    def _step(self) -> None:
        self._drop_cancelled()
        self._admit()
        rows = self._rows()
        if not rows:
            return
        self._decode(rows)
        self.steps += 1
        self.max_rows = max(self.max_rows, sum(1 for _, _, _, logits in rows if logits))
        for row, (_, _, slot, logits) in enumerate(rows):
            if logits and slot.request is not None:
                self._sample(slot, row)

    def _drop_cancelled(self) -> None:
        for slot in self.slots:
            if slot.request is not None and slot.request.cancelled:
                self._finish(slot, "STOP")
        with self.wake:
            for request in [r for r in self.pending if r.cancelled]:
                self.pending.remove(request)
                request.pieces.put(DONE)

    def _admit(self) -> None:
        """Give waiting requests a free slot, starting from the longest cached prefix."""
        while True:
            free = [s for s in self.slots if s.request is None]
            with self.wake:
                if not free or not self.pending:
                    return
                request = self.pending.pop(0)
            prompt = request.tokens[:-1]  # the last token is always fed: it gives the logits
            slot = max(free, key=lambda s: (common_length(s.tokens, prompt), -s.used))
            source, common = slot.seq, common_length(slot.tokens, prompt)
            seq0 = list(self.llm.input_ids[: self.llm.n_tokens])
            for seq, tokens in [(0, seq0)] + [(s.seq, s.tokens) for s in self.slots]:
                if (n := common_length(tokens, prompt)) > common:
                    source, common = seq, n
            import llama_cpp

            if source == slot.seq:
                llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, common, -1)
            else:
                llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
                llama_cpp.llama_memory_seq_cp(self.mem, source, slot.seq, 0, common)
            slot.tokens = request.tokens[:common]
            slot.request, request._slot, request.reused = request, slot, common
            self.rngs[slot.seq] = np.random.default_rng(request.seed)

    def _rows(self) -> list[tuple[int, int, Slot, bool]]:
        """(token, position, slot, wants logits) of this step: one token of every decoding
        sequence, then prompt chunks of the ones still reading their prompt."""
        rows: list[tuple[int, int, Slot, bool]] = []
        for slot in self.slots:
            request = slot.request
            if request is not None and not slot.prefilling and request._next is not None:
                rows.append((request._next, len(slot.tokens), slot, True))
        for slot in self.slots:
            request = slot.request
            if request is None or not slot.prefilling:
                continue
            room = min(PREFILL_CHUNK, self.n_batch - len(rows))
            if room <= 0:
                break
            start = len(slot.tokens)
            chunk = request.tokens[start : start + room]
            end = start + len(chunk)
            for i, token in enumerate(chunk):
                rows.append(
                    (token, start + i, slot, end == len(request.tokens) and i == len(chunk) - 1)
                )
        return rows

    def _decode(self, rows: list[tuple[int, int, Slot, bool]]) -> None:
        import llama_cpp

        batch = self.batch
        batch.n_tokens = len(rows)
        for i, (token, pos, slot, logits) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = slot.seq
            batch.logits[i] = logits
        status = llama_cpp.llama_decode(self.ctx, batch)
        while status == 1 and self._evict_idle():  # no room in the cache: free finished slots
            status = llama_cpp.llama_decode(self.ctx, batch)
        if status == 1:
            raise RuntimeError("the context is full: too many long conversations at once")
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")
        for token, _, slot, _ in rows:  # what each sequence's cache now holds
            slot.tokens.append(token)

    def _sample(self, slot: Slot, row: int) -> None:
        import llama_cpp

        request = slot.request
        assert request is not None
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, row)
        logits = np.ctypeslib.as_array(
            ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,)
        )
        token = _pick(logits, request.temperature, self.rngs[slot.seq])
        if token in self.end_tokens:
            self._finish(slot, "STOP")
            return
        request.generated.append(token)
        text = self.llm.detokenize(request.generated).decode("utf-8", errors="ignore")
        if len(text) > len(request._text):
            request.pieces.put(text[len(request._text) :])
            request._text = text
        if len(request.generated) >= request.max_tokens:
            self._finish(slot, "MAX_TOKENS")
            return
        request._next = token

    def _finish(self, slot: Slot, finish: str, error: str | None = None) -> None:
        request = slot.request
        if request is None:
            return
        request.finish, request.error = finish, error
        slot.request, slot.used = None, time.monotonic()
        request.pieces.put(DONE)

    def _evict_idle(self) -> bool:
        """Drop the cache of the least recently used idle slot; False if there is none."""
        import llama_cpp

        idle = [s for s in self.slots if s.request is None and s.tokens]
        if not idle:
            return False
        slot = min(idle, key=lambda s: s.used)
        llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
        slot.tokens = []
        return True

    def _fail_all(self, why: str) -> None:
        import llama_cpp

        for slot in self.slots:
            if slot.request is not None:
                self._finish(slot, "STOP", error=why)
            llama_cpp.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
            slot.tokens = []
        with self.wake:
            pending, self.pending = self.pending, []
        for request in pending:
            request.error = why
            request.pieces.put(DONE)


def common_length(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
