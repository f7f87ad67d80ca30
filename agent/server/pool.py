"""Runs agent requests in worker threads, with a bounded queue.

At most `max_concurrency` runs execute at once (one thread, one Agent, one Sandbox each); up to
`queue_size` more wait; beyond that `try_admit` refuses (the server answers 429). A run's slot is
freed only when its worker has finished and its sandbox is closed, even if the client has gone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

STARTED = object()  # pushed once the run's model and agent were built
END = object()  # always the last item of a run


class RunCancelled(Exception):
    """Pushed for a run stopped before it started (client gone, or the server shutting down)."""


class Run:
    """One request's run: the worker pushes items into `queue`; `cancel` asks it to stop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.cancel = threading.Event()
        self.worker: int | None = None  # the worker thread's ident while the run executes
        self._worker_lock = threading.Lock()

    def stop(self) -> None:
        """Ask the run to stop and kill the code it is running now (so a client that went away
        frees its slot within a moment, not when its code ends)."""
        self.cancel.set()
        with self._worker_lock:
            if self.worker is not None:
                from sandbox.session import interrupt_thread

                interrupt_thread(self.worker)

    def push(self, item: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (server shutting down): stop the run
            self.cancel.set()


class RunPool:
    def __init__(self, max_concurrency: int, queue_size: int) -> None:
        if max_concurrency < 1 or queue_size < 0:
            raise ValueError("max_concurrency must be >= 1 and queue_size >= 0")
        self.max_concurrency = max_concurrency
        self.queue_size = queue_size
        self._admitted = 0
        self._runs: set[Run] = set()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="codexec-run")

    @property
    def admitted(self) -> int:
        """Runs executing or waiting."""
        return self._admitted

    def try_admit(self) -> bool:
        with self._lock:
            if self._admitted >= self.max_concurrency + self.queue_size:
                return False
            self._admitted += 1
            return True

    def _release(self, run: Run) -> None:
        with self._lock:
            self._admitted -= 1
            self._runs.discard(run)

    def start(
        self, open_events: Callable[[], Iterator[Any]], loop: asyncio.AbstractEventLoop
    ) -> Run:
        """Start an admitted run; `open_events()` runs in the worker and returns the event stream.

        The worker pushes STARTED once the stream is open, then each event, then END; an exception
        is pushed as the exception object (before END).
        """
        run = Run(loop)
        with self._lock:
            self._runs.add(run)
        self._executor.submit(self._work, run, open_events)
        return run

    def _work(self, run: Run, open_events: Callable[[], Iterator[Any]]) -> None:
        with run._worker_lock:
            run.worker = threading.get_ident()
        try:
            if run.cancel.is_set():
                raise RunCancelled("the request was cancelled before it started")
            events = open_events()  # bad input (model name, files) fails here, before STARTED
            run.push(STARTED)
            try:
                for event in events:
                    run.push(event)
                    if run.cancel.is_set():
                        break
            finally:
                close = getattr(events, "close", None)
                if close is not None:
                    close()  # closes the agent's sandbox
        except BaseException as e:  # noqa: BLE001 - handed to the request, which reports it
            run.push(e)
        finally:
            with run._worker_lock:
                run.worker = None
            self._release(run)
            run.push(END)

    def shutdown(self) -> None:
        """Stop every run (each closes its sandbox and ends its request); don't wait."""
        with self._lock:
            runs = list(self._runs)
        for run in runs:
            run.stop()
        self._executor.shutdown(wait=False)
