"""The embedded model's runtime: loading the GGUF into llama.cpp once per process, one call at a
time (or several, batched), stopping a call when it is cancelled, and freeing the model at exit
without crashing a generation still running in another thread.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.models import cancel
from agent.models.base import ModelError
from agent.models.cancel import Cancelled
from agent.models.llama_buffers import without_extra_buffers
from agent.models.local_scheduler import Scheduler

log = logging.getLogger("codexec.local")

N_CTX = 8192
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
    """The model `size` (1.5b, 0.5b, or the absolute path of a GGUF file), loaded once."""
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
                path = Path(size) if os.path.isabs(size) else model_path(size)
            except WeightsError as e:
                raise ModelError(str(e)) from e
            threads = _threads()
            try:
                with without_extra_buffers():
                    llm = Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads, verbose=False)
            except ValueError as e:  # llama.cpp could not load it
                raise ModelError(f"{path} is not a usable GGUF model: {e}") from e
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


def batching() -> bool:
    """Whether a model loaded now decodes concurrent calls together (`$CODEXEC_BATCHING=1`;
    `serve` sets it unless given --no-batching)."""
    return os.environ.get("CODEXEC_BATCHING", "") == "1"


def scheduler_of(loaded: _Loaded) -> Scheduler:
    with _load_lock:
        if loaded.scheduler is None:
            loaded.scheduler = Scheduler(loaded, first_seq=MAX_SEQUENCES, n_slots=BATCH_SLOTS)
        return loaded.scheduler


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
