"""Environments' live half: one sandbox session per environment, kept between interactions.

An interaction that names an environment runs its code in that environment's session, so a
variable set in one interaction exists in the next. One interaction runs in an environment at a
time (another waits up to `BUSY_WAIT_S`, then gets 409). After each run the session's files are
mirrored to disk (env_store.py). A session idle for `idle_s` is suspended: its files stay on
disk, its interpreter (and so its variables) goes; the next run starts a new session with the
files and its first code result begins with a note saying the variables were lost. The same
note follows a server restart. Environments unused for their time to live are deleted.

Sessions are opened by the manager's own thread: `sandbox.interrupt_thread` (what the server
calls for a request whose client went away) kills every session its thread opened, and pool
workers serve unrelated requests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from agent.server.env_store import EnvRecord, EnvStore
from agent.server.errors import ApiError

log = logging.getLogger("agent.server")

BUSY_WAIT_S = 30.0
SUSPENDED = (
    "[environment: this environment was suspended after {idle} without use; its files were "
    "kept, its variables were lost: run the code that defines them again]\n"
)
RESTARTED = (
    "[environment: the server restarted since this environment last ran; its files were "
    "kept, its variables were lost: run the code that defines them again]\n"
)


@dataclass
class _Live:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sandbox: Any = None  # the open session, or None (new, suspended, or before a restart)
    last_used: float = 0.0  # monotonic
    ran: bool = False  # code ran in the open session (its variables are worth a note)
    note: str = ""  # for the next run's first code result
    suspended: bool = False


class EnvManager:
    def __init__(self, store: EnvStore, idle_s: float, limit: int) -> None:
        self.store = store
        self.idle_s = idle_s
        self.limit = limit
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()
        self._opener = ThreadPoolExecutor(1, thread_name_prefix="codexec-env-open")
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="codexec-env", daemon=True)
        self._sweeper.start()

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Save every open session's files and close it (server shutdown)."""
        self._stop.set()
        with self._lock:
            lives = list(self._live.items())
        for env_id, live in lives:
            if live.lock.acquire(timeout=5):
                try:
                    self._suspend(env_id, live)
                finally:
                    live.lock.release()
            elif live.sandbox is not None:
                live.sandbox.close()
        self._opener.shutdown(wait=False)

    def state(self, record: EnvRecord) -> str:
        live = self._live.get(record.id)
        if live is not None and live.sandbox is not None:
            return "running"
        return "suspended" if record.had_session or (live and live.suspended) else "new"

    def delete(self, owner: str, env_id: str) -> None:
        record = self.store.get(owner, env_id)
        live = self._get_live(record.id)
        sandbox = live.sandbox
        if sandbox is not None:
            sandbox.interrupt()  # a run in progress ends now
        with live.lock:
            if live.sandbox is not None:
                live.sandbox.close()
                live.sandbox = None
            self.store.forget(record.id)
        with self._lock:
            self._live.pop(record.id, None)

    # --- runs --------------------------------------------------------------------------------

    def acquire(self, owner: str, env_id: str) -> _Lease:
        """The environment's session for one run (opened, with its files, if needed)."""
        record = self.store.get(owner, env_id)
        live = self._get_live(record.id)
        if not live.lock.acquire(timeout=BUSY_WAIT_S):
            raise ApiError(
                409,
                f"Environment {record.id!r} is busy running another interaction; retry later.",
                "ABORTED",
            )
        try:
            if live.sandbox is None or live.sandbox.closed:
                note = live.note  # a note no code run has shown yet
                if live.suspended and live.ran:
                    note = SUSPENDED.format(idle=_duration(self.idle_s))
                elif record.had_session and not live.suspended:
                    note = RESTARTED
                live.sandbox = self._opener.submit(_open_session).result()
                live.ran = False
                live.suspended = False
                try:
                    _restore(live.sandbox, self.store.saved_files(record.id))
                except BaseException:
                    live.sandbox.close()
                    live.sandbox = None
                    raise
                live.note = note
            return _Lease(self, record.id, live)
        except BaseException:
            live.lock.release()
            raise

    def _release(self, env_id: str, live: _Live) -> None:
        try:
            if live.sandbox is not None:
                self._save(env_id, live.sandbox)
            self.store.touch(env_id, had_session=live.ran or None)
        finally:
            live.last_used = time.monotonic()
            live.lock.release()

    # --- suspension and expiry -----------------------------------------------------------------

    def sweep(self) -> None:
        """Suspend idle sessions; delete environments past their time to live."""
        now = time.monotonic()
        with self._lock:
            lives = list(self._live.items())
        for env_id, live in lives:
            if live.sandbox is None or now - live.last_used < self.idle_s:
                continue
            if live.lock.acquire(blocking=False):
                try:
                    if (
                        live.sandbox is not None
                        and time.monotonic() - live.last_used >= self.idle_s
                    ):
                        self._suspend(env_id, live)
                finally:
                    live.lock.release()
        for env_id in self.store.expired():
            live = self._get_live(env_id)
            if live.lock.acquire(blocking=False):
                try:
                    if live.sandbox is not None:
                        live.sandbox.close()
                        live.sandbox = None
                    self.store.forget(env_id)
                    log.info("environment %s expired and was deleted", env_id)
                finally:
                    live.lock.release()
                with self._lock:
                    self._live.pop(env_id, None)

    def _suspend(self, env_id: str, live: _Live) -> None:
        sandbox, live.sandbox = live.sandbox, None
        if sandbox is None:
            return
        try:
            self._save(env_id, sandbox)
        finally:
            sandbox.close()
            live.suspended = True
            log.info("environment %s suspended (files kept, variables lost)", env_id)

    def _sweep_loop(self) -> None:
        interval = max(0.1, min(30.0, self.idle_s / 4, self.store.ttl_s / 4))
        while not self._stop.wait(interval):
            try:
                self.sweep()
            except Exception:  # keep sweeping; a failed sweep is retried next time
                log.exception("environment sweep failed")

    # --- helpers -----------------------------------------------------------------------------

    def _get_live(self, env_id: str) -> _Live:
        with self._lock:
            return self._live.setdefault(env_id, _Live())

    def _save(self, env_id: str, sandbox: Any) -> None:
        """Mirror the session's files to disk (kept if the listing fails)."""
        try:
            files = {f.name: sandbox.read_file(f.name) for f in sandbox.list_files()}
        except Exception as e:  # the session broke: keep the last mirror
            log.warning("environment %s: could not save its files: %s", env_id, e)
            return
        self.store.save_files(env_id, files)


class _Lease:
    """One run's hold on an environment: `sandbox` for the Agent, `events` wraps its stream."""

    def __init__(self, manager: EnvManager, env_id: str, live: _Live) -> None:
        self.manager = manager
        self.env_id = env_id
        self.live = live
        self.sandbox = _EnvSandbox(live)
        self.active = True  # until released

    def interrupt(self) -> None:
        """Kill the code this run is running now (the client went away)."""
        sandbox = self.live.sandbox
        if self.active and sandbox is not None:
            sandbox.interrupt()

    def events(self, stream: Iterator[Any]) -> _LeasedStream:
        return _LeasedStream(self, stream)

    def release(self) -> None:
        if self.active:
            self.active = False
            self.manager._release(self.env_id, self.live)


class _LeasedStream:
    """The run's events; closing it (even before the first event) ends the lease."""

    def __init__(self, lease: _Lease, stream: Iterator[Any]) -> None:
        self.lease = lease
        self.stream = stream
        self.closed = False

    def __iter__(self) -> _LeasedStream:
        return self

    def __next__(self) -> Any:
        return next(self.stream)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        close: Callable[[], None] | None = getattr(self.stream, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self.lease.release()


class _EnvSandbox:
    """The environment's session as the Agent sees it: never closed by a run; its first code
    result carries the environment's note (variables lost)."""

    def __init__(self, live: _Live) -> None:
        self._live = live

    def run(self, code: str, timeout_s: float | None = None) -> Any:
        live = self._live
        result = live.sandbox.run(code, timeout_s=timeout_s)
        live.ran = True
        if live.note:
            result = result.model_copy(update={"stderr": live.note + result.stderr})
            live.note = ""
        return result

    def close(self, wait: bool = False) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._live.sandbox, name)


def _open_session() -> Any:
    from sandbox import Sandbox

    return Sandbox()


def _restore(sandbox: Any, files: dict[str, bytes]) -> None:
    dirs = sorted({name.rsplit("/", 1)[0] for name in files if "/" in name})
    if dirs:  # put_file does not create directories
        code = f"[__import__('os').makedirs(d, exist_ok=True) for d in {dirs!r}]"
        sandbox.run(code, timeout_s=30)
    for name, data in files.items():
        sandbox.put_file(name, data)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
