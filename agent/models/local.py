"""The embedded local model: Qwen2.5-Coder-Instruct (1.5B or 0.5B GGUF) through llama-cpp-python.

We render the ChatML prompt ourselves so that each turn of a solve is a strict extension of the
previous prompt plus what the model generated: llama.cpp then keeps the common prefix in its KV
cache and only evaluates the new tokens (the code's output and the next header). The system prompt
is shared between solves too, so consecutive questions reuse it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from agent.degenerate import is_degenerate
from agent.models import cancel
from agent.models.base import GenerateOptions, ModelError, ModelTurn, TextSink
from agent.models.cancel import Cancelled
from agent.models.fenced import CHATML_STOP, ProseStreamer, find_code_block, render_history
from agent.models.llama_buffers import without_extra_buffers
from agent.models.local_scheduler import Request, Scheduler
from agent.parts import Message
from agent.usage import CallUsage

log = logging.getLogger("codexec.local")

N_CTX = 8192
ASSISTANT_HEADER = "<|im_start|>assistant\n"
MAX_SEQUENCES = 8  # continuations decoded in one batch at most (self-consistency samples)
BATCH_SLOTS = 4  # concurrent generations decoded together (sequences after MAX_SEQUENCES)
BATCH_N_CTX = 4 * N_CTX  # cache cells shared by every sequence when batching
CLOSE_WAIT_S = 2.0  # at exit, how long to wait for running generations to stop


@dataclass
class _Loaded:
    llm: Any  # llama_cpp.Llama
    lock: threading.Lock = field(default_factory=threading.Lock)  # one generation at a time
    cancel: threading.Event | None = None  # the running call's cancel event (set under `lock`)
    abort: Any = None  # the ctypes abort callback llama.cpp holds: kept alive with the model
    batched: bool = False  # loaded for continuous batching (`batching()` at load time)
    scheduler: Scheduler | None = None  # the continuous-batching decoder, made on first use

    def stopped(self) -> bool:
        """Whether the call running on this model must stop (it was cancelled, or we exit)."""
        event = self.cancel
        return _closing.is_set() or (event is not None and event.is_set())

    @contextlib.contextmanager
    def hold(self) -> Iterator[Any]:
        """The model, for one call at a time. The wait for it ends when the caller's cancel
        event (`agent.models.cancel`) is set; inside, that event stops llama.cpp's decoding."""
        event = cancel.current()
        while not self.lock.acquire(timeout=0.05):
            if _stopping():
                raise Cancelled()
        try:
            if _stopping():
                raise Cancelled()
            self.cancel = event
            yield self.llm
        finally:
            self.cancel = None
            self.lock.release()


_models: dict[str, _Loaded] = {}
_load_lock = threading.Lock()
_closing = threading.Event()  # set at exit: every generation stops at its next token
_leaked: list[_Loaded] = []  # models still decoding at exit: never freed (a leak, not a crash)


def _stopping() -> bool:
    """Whether the call running in this thread must stop now."""
    return _closing.is_set() or cancel.cancelled()


def _load(size: str) -> _Loaded:
    with _load_lock:
        if size not in _models:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ModelError(
                    "the local model needs llama-cpp-python: pip install 'codexec[local]'"
                ) from e
            from agent.weights import WeightsError, model_path

            try:
                path = model_path(size)
            except WeightsError as e:
                raise ModelError(str(e)) from e
            threads = _threads()
            with without_extra_buffers():
                llm = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads, verbose=False)
            batched = batching()
            if batched:
                _allow_sequences(llm, MAX_SEQUENCES + BATCH_SLOTS, BATCH_N_CTX)
            else:
                _allow_sequences(llm, MAX_SEQUENCES)
            if not _models:
                atexit.register(_close_all)
            loaded = _Loaded(llm, batched=batched)
            _set_abort(loaded)
            _quiet_aborts()
            _models[size] = loaded
        return _models[size]


def _set_abort(loaded: _Loaded) -> None:
    """Let llama.cpp stop a decode (a long prompt evaluation) between two graph nodes when the
    call is cancelled: `llama_decode` then returns 2 and llama_cpp raises a RuntimeError."""
    import llama_cpp

    if not hasattr(llama_cpp, "llama_set_abort_callback"):
        return

    @llama_cpp.ggml_abort_callback
    def abort(_data: Any) -> bool:
        return loaded.stopped()

    loaded.abort = abort
    llama_cpp.llama_set_abort_callback(loaded.llm._ctx.ctx, abort, None)


def _allow_sequences(llm: Any, n: int, n_ctx: int | None = None) -> None:
    """Give `llm` a context whose one KV cache (unified) holds up to `n` sequences, so that
    batched continuations share the prompt's cells (`n_ctx` cells in all, if given). `Llama`
    offers this only for embeddings."""
    from llama_cpp import _internals

    params = llm.context_params
    params.n_seq_max = n
    if n_ctx is not None:
        params.n_ctx = n_ctx
    params.kv_unified = True
    old = llm._ctx
    llm._ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
    # `Llama` trims its cache with seq_rm(-1, ...), every sequence at once; it only ever uses
    # sequence 0, so that is what it may trim (the others are batches' and other requests').
    remove = llm._ctx.kv_cache_seq_rm
    llm._ctx.kv_cache_seq_rm = lambda seq, p0, p1: remove(0 if seq < 0 else seq, p0, p1)
    llm._stack.callback(llm._ctx.close)
    old.close()


_log_callback: Any = None  # the ctypes log callback llama.cpp holds (kept alive here)


def _quiet_aborts() -> None:
    """Drop llama.cpp's log lines while a call is being stopped: every aborted decode logs an
    error ("decode: removing memory module entries ...") that is no error here, and Ctrl-C must
    print one line. Other messages go to llama_cpp's own log callback, as before."""
    global _log_callback
    import llama_cpp
    from llama_cpp import _logger

    if _log_callback is not None or not hasattr(llama_cpp, "llama_log_set"):
        return

    @llama_cpp.llama_log_callback
    def log(level: int, text: bytes, user_data: Any) -> None:
        if _closing.is_set() or any(loaded.stopped() for loaded in list(_models.values())):
            return
        _logger.llama_log_callback(level, text, user_data)

    _log_callback = log
    llama_cpp.llama_log_set(log, None)


def _close_all() -> None:
    """Free the models while the interpreter is intact: llama_cpp's own `__del__` runs too late
    at exit and prints a TypeError traceback. A generation may still be decoding in a worker
    thread (Ctrl-C, an abandoned call): it is told to stop and waited for, and a model whose
    call does not stop in time is leaked, never freed under it (that crashed with SIGSEGV)."""
    _closing.set()
    deadline = time.monotonic() + CLOSE_WAIT_S
    for size, loaded in list(_models.items()):
        if loaded.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                loaded.llm.close()
            finally:
                loaded.lock.release()
        else:
            log.warning("the %s model is still decoding at exit: left to the OS", size)
            _leak(loaded)
    _models.clear()


def _leak(loaded: _Loaded) -> None:
    """Keep `loaded` (its llama.cpp context and abort callback) alive to the very end of the
    process: an extra reference the interpreter's shutdown never drops."""
    import ctypes

    _leaked.append(loaded)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(loaded))


def _threads() -> int:
    """`$CODEXEC_THREADS`, else every core, else half of them when the machine is already busy:
    llama.cpp's threads spin while they wait for each other, so on an oversubscribed machine
    2 threads on 2 cores ran 18x slower than 1 (0.3 vs 5.6 tokens/s measured)."""
    if os.environ.get("CODEXEC_THREADS", "").strip().isdigit():
        return max(1, int(os.environ["CODEXEC_THREADS"]))
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0] >= cores
    except OSError:
        busy = False
    return max(1, cores // 2) if busy else cores


def render_chatml(system: str, history: list[Message]) -> str:
    """The Qwen2.5 chat template, ending with the open assistant header."""
    out = [f"<|im_start|>system\n{system}<|im_end|>\n"] if system else []
    for message in render_history(history):
        out.append(f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n")
    out.append(ASSISTANT_HEADER)
    return "".join(out)


@dataclass
class GenerationStats:
    """The last call's numbers (for measurements and logs)."""

    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens found in the KV cache
    output_tokens: int = 0
    prompt_s: float = 0.0  # time to the first token
    generate_s: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.generate_s if self.generate_s > 0 else 0.0


class LocalModel:
    """A provider: renders the conversation as ChatML, continues `options.prefill` if given, and
    keeps the state of the first `options.shared_prefix` messages (worked examples) cached.
    `few_shot` and `prefill` configure the strategy it asks for (`default_strategy`)."""

    supports_prefill = True

    def __init__(self, size: str = "1.5b", *, few_shot: bool = True, prefill: bool = True) -> None:
        from agent.weights import spec_for

        try:
            self.size = spec_for(size).size
        except Exception as e:  # WeightsError: unknown size
            raise ModelError(str(e)) from e
        self.spec = "local" if self.size == "1.5b" else f"local:{self.size}"
        self.few_shot = few_shot
        self.prefill = prefill
        self.last_stats = GenerationStats()

    def default_strategy(self) -> Any:
        from agent.strategies import TextProtocol

        return TextProtocol(few_shot=self.few_shot, prefill=self.prefill)

    def generate(
        self,
        system: str,
        history: list[Message],
        *,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None = None,
    ) -> ModelTurn:
        loaded = _load(self.size)
        self._keep_prefix(loaded, system, history[: options.shared_prefix])
        prompt = render_chatml(system, history)
        if loaded.batched:
            scheduler = _scheduler(loaded)
            return self._generate(loaded.llm, prompt, code_execution, options, on_text, scheduler)
        with loaded.hold() as llm:
            return self._generate(llm, prompt, code_execution, options, on_text)

    def _keep_prefix(self, loaded: _Loaded, system: str, shots: list[Message]) -> None:
        """Restore (or compute and save) the KV state of the fixed prefix: the system prompt and
        worked examples every solve starts with."""
        from agent.models.prefix_cache import ensure_prefix, state_dir
        from agent.weights import spec_for

        if not hasattr(loaded.llm, "_ctx"):  # not a llama_cpp.Llama (a test double)
            return
        text = render_chatml(system, shots).removesuffix(ASSISTANT_HEADER)
        with loaded.hold() as llm, _aborted_is_cancelled():
            tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
            if loaded.scheduler is not None and loaded.scheduler.holds(tokens):
                return  # a batched sequence has it: new requests copy it from there
            start = time.monotonic()
            how = ensure_prefix(llm, tokens, spec_for(self.size).sha256, state_dir())
            if how != "cached":
                log.info(
                    "prompt prefix of %d tokens %s in %.2f s",
                    len(tokens),
                    how,
                    time.monotonic() - start,
                )

    def _generate(
        self,
        llm: Any,
        prompt: str,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None,
        scheduler: Scheduler | None = None,
    ) -> ModelTurn:
        """One answer, continuing `options.prefill`: decoded alone through llama_cpp's own
        completion, or with other requests' sequences by the `scheduler`."""
        prefix = options.prefill
        tokens = llm.tokenize((prompt + prefix).encode(), add_bos=False, special=True)
        room = N_CTX - len(tokens)
        if room < 16:
            raise ModelError(
                f"the conversation ({len(tokens)} tokens) no longer fits the local model's "
                f"context of {N_CTX} tokens"
            )
        stats = GenerationStats(prompt_tokens=len(tokens))
        streamer = ProseStreamer()
        text, finish, code_done = prefix, "STOP", False  # the prefill counts as model text
        streamer.feed(prefix)
        start = time.monotonic()
        first: float | None = None
        if _stopping():
            raise Cancelled()
        max_tokens = min(options.max_output_tokens, room)
        if scheduler is None:
            stats.reused_tokens = _common_prefix(llm, tokens)
            chunks = _completion_chunks(llm, tokens, max_tokens, options)
        else:
            request = scheduler.submit(
                tokens,
                max_tokens=max_tokens,
                temperature=options.temperature,
                seed=options.seed or 0,
            )
            chunks = _scheduled_chunks(request)
        with contextlib.closing(chunks), _aborted_is_cancelled():
            for delta, cut in chunks:
                if _stopping():  # checked at every token, streamed or not
                    raise Cancelled()
                if first is None:
                    first = time.monotonic()
                text += delta
                if stop := _stop_string_in(text, len(prefix)):
                    text = text[:stop]
                    break
                if on_text is not None and (shown := streamer.feed(delta)):
                    on_text(shown)
                if cut:
                    finish = "MAX_TOKENS"
                if "\n" in delta and is_degenerate(text):  # a loop: the rest would be more of it
                    finish = "MAX_TOKENS"
                    break
                if code_execution:
                    block = find_code_block(text, at_end=False)
                    if block is not None and block.closed:
                        code_done = True
                        break  # stop generating: the loop runs the code, then we continue
        end = time.monotonic()
        if scheduler is not None:
            stats.reused_tokens = request.reused
        generated = text[len(prefix) :]
        stats.output_tokens = len(llm.tokenize(generated.encode(), add_bos=False, special=True))
        stats.prompt_s = (first or end) - start
        stats.generate_s = end - (first or end)
        self.last_stats = stats
        usage = CallUsage(prompt_tokens=stats.prompt_tokens, output_tokens=stats.output_tokens)
        turn = _to_turn(text, finish, code_done, code_execution, usage)
        if turn.code is None and on_text is not None and (rest := streamer.flush()):
            on_text(rest)
        return turn

    def generate_many(
        self,
        system: str,
        history: list[Message],
        *,
        n: int,
        code_execution: bool,
        options: GenerateOptions,
        temperature: float,
    ) -> list[ModelTurn]:
        """`n` first answers to the same conversation, decoded as one batch (the first greedy,
        the rest sampled at `temperature`): self-consistency at a fraction of n calls' cost."""
        from agent.models.local_batch import sample_continuations

        loaded = _load(self.size)
        prompt = render_chatml(system, history)
        prefix = options.prefill
        self._keep_prefix(loaded, system, history[: options.shared_prefix])

        def stop(text: str) -> bool:
            full = prefix + text
            if any(s in text for s in CHATML_STOP) or is_degenerate(full):
                return True
            block = find_code_block(full, at_end=False) if code_execution else None
            return block is not None and block.closed

        with loaded.hold() as llm:
            tokens = llm.tokenize((prompt + prefix).encode(), add_bos=False, special=True)
            room = N_CTX - len(tokens) - n * options.max_output_tokens
            batched = room >= 0 and n <= MAX_SEQUENCES
            if batched:
                with _aborted_is_cancelled():
                    outs = sample_continuations(
                        llm,
                        tokens,
                        n,
                        max_tokens=options.max_output_tokens,
                        temperature=temperature,
                        seed=options.seed or 0,
                        stop=stop,
                        cancelled=_stopping,
                    )
                    if _stopping():  # the decoder left early: its texts are unfinished
                        raise Cancelled()
        if not batched:  # one call each (outside the lock, which `generate` takes itself)
            return [
                self.generate(
                    system,
                    history,
                    code_execution=code_execution,
                    options=options.model_copy(
                        update={"temperature": 0.0 if i == 0 else temperature, "seed": i}
                    ),
                )
                for i in range(n)
            ]
        turns = []
        for out in outs:
            text = prefix + _cut_at_stop(out.text)
            finish = "MAX_TOKENS" if out.finish == "MAX_TOKENS" or is_degenerate(text) else "STOP"
            usage = CallUsage(prompt_tokens=len(tokens), output_tokens=len(out.tokens))
            block = find_code_block(text, at_end=False) if code_execution else None
            turns.append(
                _to_turn(text, finish, bool(block and block.closed), code_execution, usage)
            )
        return turns


def batching() -> bool:
    """Whether a model loaded now decodes concurrent calls together (`$CODEXEC_BATCHING=1`;
    `serve` sets it unless given --no-batching)."""
    return os.environ.get("CODEXEC_BATCHING", "") == "1"


def _scheduler(loaded: _Loaded) -> Scheduler:
    with _load_lock:
        if loaded.scheduler is None:
            loaded.scheduler = Scheduler(loaded, first_seq=MAX_SEQUENCES, n_slots=BATCH_SLOTS)
        return loaded.scheduler


Chunks = Generator[tuple[str, bool], None, None]  # (text, cut at the token limit)


def _completion_chunks(
    llm: Any, tokens: list[int], max_tokens: int, options: GenerateOptions
) -> Chunks:
    stream = llm.create_completion(
        tokens,
        max_tokens=max_tokens,
        temperature=options.temperature,
        seed=options.seed,
        repeat_penalty=1.0,
        stop=CHATML_STOP,
        stream=True,
    )
    with contextlib.closing(stream):
        for chunk in stream:
            choice = chunk["choices"][0]
            yield choice.get("text") or "", choice.get("finish_reason") == "length"


def _scheduled_chunks(request: Request) -> Chunks:
    """The request's text as it is decoded; closing this (or Ctrl-C) cancels the request."""
    try:
        while True:
            try:
                piece = request.pieces.get(timeout=0.05)
            except queue.Empty:
                if _stopping():
                    raise Cancelled() from None
                continue
            if piece is None:
                break
            yield piece, False
        if request.error:
            raise ModelError(f"the local model failed: {request.error}")
        if request.finish == "MAX_TOKENS":
            yield "", True
    finally:
        request.cancel()


def _stop_string_in(text: str, start: int) -> int | None:
    """Where the first stop string in the generated part of `text` begins (llama_cpp's own
    completion never returns them; the batched decoder does)."""
    found = [i for s in CHATML_STOP if (i := text.find(s, start)) >= 0]
    return min(found) if found else None


@contextlib.contextmanager
def _aborted_is_cancelled() -> Iterator[None]:
    """A decode that llama.cpp aborted for a cancelled call (`_set_abort`) raises RuntimeError
    ("llama_decode returned 2"): report it as the cancellation it is."""
    try:
        yield
    except Cancelled:
        raise
    except RuntimeError as exc:
        if _stopping():
            raise Cancelled() from exc
        raise


def _cut_at_stop(text: str) -> str:
    """The text before the first stop string (the batch decoder stops just after it)."""
    cut = min((i for s in CHATML_STOP if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def _to_turn(
    text: str, finish: str, code_done: bool, code_execution: bool, usage: CallUsage
) -> ModelTurn:
    if code_execution:
        block = find_code_block(text, at_end=True)
        # An unclosed block that ended on a stop string ("```output" or end of turn) is
        # complete; one cut by the token limit is not run.
        if block is not None and block.code.strip():
            if block.closed or code_done or finish == "STOP":
                return ModelTurn(
                    text=block.prose, code=block.code, usage=usage, finish_reason="CODE"
                )
    return ModelTurn(text=text, usage=usage, finish_reason=finish)


def _common_prefix(llm: Any, tokens: list[int]) -> int:
    """How many leading prompt tokens llama.cpp already has in its KV cache."""
    cached = list(getattr(llm, "_input_ids", ())[: getattr(llm, "n_tokens", 0)])
    n = 0
    for a, b in zip(cached, tokens, strict=False):
        if a != b:
            break
        n += 1
    return n
