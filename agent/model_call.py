"""One model call in a worker thread that the solve can stop: at its deadline, when the stream
that shows it is closed, or on Ctrl-C (`agent.models.cancel`: the local model stops at its next
token). A backend that ignores the cancellation is abandoned after `STOP_WAIT_S`."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from agent.events import Event, TextDelta
from agent.models import cancel
from agent.models.base import GenerateOptions, Model, ModelTurn
from agent.strategies import Prompt

STOP_WAIT_S = 1.0  # how long a model call we stopped waiting for may take to end (and free it)

T = TypeVar("T")


def stream_call(
    model: Model,
    prompt: Prompt,
    code_on: bool,
    options: GenerateOptions,
    stream_text: bool,
    deadline: float,
) -> Generator[Event, None, tuple[ModelTurn, bool]]:
    """One model call, in a worker thread: its text is yielded as it arrives; returns the
    turn and whether any text was streamed. When the loop stops waiting for it (the
    `deadline` (monotonic) passes, the stream is closed, Ctrl-C), the call is cancelled
    (`agent.models.cancel`: the local model stops at its next token) and given `STOP_WAIT_S`
    to end; a backend that ignores the cancellation is abandoned."""
    system, snapshot = prompt.system, list(prompt.history)
    pipe: queue.Queue[str | None] = queue.Queue()
    box: dict[str, Any] = {}
    abandoned = threading.Event()

    def sink(chunk: str) -> None:
        if abandoned.is_set():  # the consumer is gone: make the backend stop generating
            raise _Abandoned("the solve was stopped")
        if stream_text:
            pipe.put(chunk)

    def work() -> None:
        try:
            with cancel.scope(abandoned):
                box["turn"] = model.generate(
                    system, snapshot, code_execution=code_on, options=options, on_text=sink
                )
        except BaseException as exc:  # re-raised in the loop's thread
            box["error"] = exc
        finally:
            pipe.put(None)

    worker = threading.Thread(target=work, name="codexec-generate", daemon=True)
    worker.start()
    streamed = False
    try:
        while True:
            try:
                chunk = pipe.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise OutOfTime() from None
            if chunk is None:
                break
            if chunk:
                streamed = True
                yield TextDelta(chunk)
    finally:
        abandoned.set()
        if worker.is_alive():  # left early: let the call stop and release the model
            worker.join(STOP_WAIT_S)
    if "error" in box:
        raise box["error"]
    turn: ModelTurn = box["turn"]
    return turn, streamed


class _Abandoned(Exception):
    pass


class OutOfTime(Exception):
    """A model call did not end before the solve's deadline (it was cancelled)."""


def call_model(fn: Callable[[], T], deadline: float = math.inf) -> T:
    """`fn()`, a model call that streams nothing, in a worker thread inside a cancel scope: it
    is cancelled (and given `STOP_WAIT_S` to end) when `deadline` (monotonic) passes, raising
    OutOfTime, or when this thread is interrupted (Ctrl-C)."""
    box: dict[str, Any] = {}
    stop = threading.Event()

    def work() -> None:
        try:
            with cancel.scope(stop):
                box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="codexec-generate", daemon=True)
    worker.start()
    try:
        while worker.is_alive():  # in steps: the deadline may be infinite
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutOfTime()
            worker.join(min(left, 1.0))
    finally:
        if worker.is_alive():
            stop.set()
            worker.join(STOP_WAIT_S)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
