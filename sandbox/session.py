"""`Sandbox`: one stateful session (one live, isolated interpreter forked from the zygote)."""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sandbox import files
from sandbox.client import get_client
from sandbox.execution import Run, build_result
from sandbox.limits import Limits
from sandbox.process import SessionProcess, reaper, wait_closed
from sandbox.result import ErrorInfo, ExecutionResult, FileInfo, SandboxError

__all__ = ["Sandbox", "interrupt_thread", "wait_closed"]

T = TypeVar("T")

_ids = itertools.count(1)
_ids_lock = threading.Lock()
_UID_BASE = 100_000
_MAX_IDLE_CPU_S = 1.0
MAX_CODE_CHARS = 8 * 1024 * 1024


_by_thread: dict[int, weakref.WeakSet[Sandbox]] = {}
_by_thread_lock = threading.Lock()


def interrupt_thread(ident: int) -> int:
    """Kill the running code of every open Sandbox that thread `ident` created (from any
    thread, even while a run is in progress: that run ends at once, as if the interpreter had
    died). For servers whose client went away. Returns how many sessions were killed."""
    with _by_thread_lock:
        boxes = list(_by_thread.get(ident, ()))
    return sum(box.interrupt() for box in boxes)


def _session_uid(sid: int) -> int:
    # Distinct per host process and per session, so sessions cannot signal each other.
    return _UID_BASE + ((os.getpid() % 4096) << 12) + (sid % 4096)


class _State:
    """Everything a Sandbox owns; closed by Sandbox.close or its finalizer."""

    def __init__(self, limits: Limits) -> None:
        with _ids_lock:
            self.sid = next(_ids)
        self.uid = _session_uid(self.sid)
        self.limits = limits
        self.client = get_client()
        self.proc: SessionProcess | None = None
        self.ws_fd = -1
        self.closed = False
        self.files_lost = False  # the zygote died: a fresh, empty workspace replaced the old one

    def ensure_process(self) -> SessionProcess:
        if self.proc is None or not self.proc.alive:
            if self.proc is not None:
                self.proc.dispose()
            if not self.client.alive():
                # The zygote died (and the workspace with it): start over with a new one.
                if self.ws_fd >= 0:
                    os.close(self.ws_fd)
                    self.ws_fd = -1
                    self.files_lost = True
                self.client = get_client()
            self.proc = SessionProcess(self.client, self.sid, self.uid, self.limits)
            if self.ws_fd < 0:
                flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                self.ws_fd = os.open(f"ws-{self.sid}", flags, dir_fd=self.client.workspaces_fd)
        return self.proc

    def close(self, wait: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.signal_kill()
        if self.ws_fd >= 0:
            os.close(self.ws_fd)
            self.ws_fd = -1
        client, sid = self.client, self.sid

        def finish() -> None:
            if proc is not None:
                proc.dispose()
            if client.alive():
                client.request({"op": "close", "sid": sid})

        if wait:
            finish()
        else:
            reaper.submit(finish)


def _serialized(method: Callable[..., T]) -> Callable[..., T]:
    """One call at a time per Sandbox (a second thread waits instead of corrupting the run)."""

    @functools.wraps(method)
    def wrapper(self: Sandbox, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Sandbox:
    """One stateful, isolated Python session. Use from one thread at a time."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._lock = threading.RLock()
        self._state = _State(self.limits)
        self._finalizer = weakref.finalize(self, self._state.close)
        with _by_thread_lock:
            _by_thread.setdefault(threading.get_ident(), weakref.WeakSet()).add(self)
        try:
            self._state.ensure_process()
        except BaseException:
            self.close()
            raise

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self, wait: bool = False) -> None:
        """Kill the session's processes now; workspace and cgroups are freed in the background
        (`wait=True`, or `sandbox.session.wait_closed()`, waits for that too)."""
        if wait:
            self._state.close(wait=True)
        self._finalizer()

    def interrupt(self) -> bool:
        """Kill the session's processes now, from any thread (a run in progress returns at
        once; the next run starts a fresh interpreter, files kept). False if none was alive."""
        state = self._state
        proc = state.proc
        if state.closed or proc is None or not proc.alive:
            return False
        proc.signal_kill()
        return True

    @property
    def closed(self) -> bool:
        return self._state.closed

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> _State:
        if self._state.closed:
            raise SandboxError("this Sandbox is closed")
        return self._state

    @property
    def isolation_level(self) -> str:
        return self._state.client.level

    # -- files -------------------------------------------------------------------------------
    def add_file(self, path: str | os.PathLike[str], name: str | None = None) -> FileInfo:
        """Copy a host file into the workspace under its own name (or `name`)."""
        path = os.fspath(path)
        limit = self.limits.max_input_file_mb * 1024 * 1024
        try:
            st = os.stat(path)
        except OSError as e:
            raise SandboxError(f"input file {path!r}: {e.strerror}") from e
        if not os.path.isfile(path):
            raise SandboxError(f"input file {path!r} is not a regular file")
        if st.st_size > limit:
            raise SandboxError(
                f"input file {path!r} has {st.st_size} bytes; the limit is "
                f"{self.limits.max_input_file_mb} MB"
            )
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        return self.put_file(name or os.path.basename(path), data)

    @_serialized
    def put_file(self, name: str, data: bytes | str) -> FileInfo:
        state = self._check_open()
        if isinstance(data, str):
            data = data.encode()
        limit = self.limits.max_input_file_mb * 1024 * 1024
        if len(data) > limit:
            raise SandboxError(f"file {name!r} has {len(data)} bytes; the limit is {limit}")
        state.ensure_process()
        owner = state.uid if state.client.level == "root" else None
        files.write_file(state.ws_fd, name, data, owner)
        return FileInfo(name=name, size=len(data), mime_type=files.mime_type(name))

    @_serialized
    def list_files(self) -> list[FileInfo]:
        state = self._check_open()
        state.ensure_process()
        return files.infos(files.snapshot(state.ws_fd))

    @_serialized
    def read_file(self, name: str) -> bytes:
        state = self._check_open()
        state.ensure_process()
        return files.read_file(state.ws_fd, name, self.limits.max_read_file_mb * 1024 * 1024)

    # -- running code ------------------------------------------------------------------------
    @_serialized
    def run(self, code: str, timeout_s: float | None = None) -> ExecutionResult:
        state = self._check_open()
        if not isinstance(code, str):
            raise SandboxError("code must be a str")
        if len(code) > MAX_CODE_CHARS:
            raise SandboxError(f"code has {len(code)} characters; the limit is {MAX_CODE_CHARS}")
        timeout = self.limits.timeout_s if timeout_s is None else float(timeout_s)
        if timeout <= 0:
            raise SandboxError("timeout_s must be positive")
        start = time.monotonic()
        note = ""
        if state.proc is not None and state.proc.alive and state.proc.exited():
            state.proc.alive = False
            note = "[sandbox: the session's interpreter had ended; a fresh one was started]\n"
        if state.proc is not None and state.proc.alive:
            busy = state.proc.cpu_seconds() - state.proc.idle_cpu_s
            if busy > _MAX_IDLE_CPU_S:
                # Something of the last run kept computing after its reply; don't trust it.
                state.proc.dispose()
                note = (
                    "[sandbox: code of the previous run kept running after it ended "
                    f"({busy:.1f} s CPU); the session was restarted (variables lost, files kept)]\n"
                )
        try:
            proc = state.ensure_process()
        except (SandboxError, OSError) as e:
            return ExecutionResult.make(
                "internal_error", error=ErrorInfo(name="SandboxError", message=str(e))
            )
        before = files.snapshot(state.ws_fd)
        oom_before = proc.cgroup.oom_kills()
        result = Run(proc, self.limits, timeout).execute(code)
        if result.get("died") and proc.cgroup.oom_kills() > oom_before:
            result["verdict"] = "memory_limit"
            result["error"] = {
                "name": "MemoryError",
                "message": f"the memory limit of {self.limits.memory_mb} MB was exceeded; "
                "the session was restarted (variables lost, files kept)",
                "traceback": "",
            }
        if result.get("died") and state.client.ended_within(0.3):
            # The fork server died with the session: its workspace is gone too. Say so.
            result["error"] = {
                "name": "SandboxProcessExit",
                "message": "the sandbox's fork server ended during the run; the session was "
                "restarted and its working directory is gone (variables and files lost)",
                "traceback": "",
            }
        if not proc.alive:
            proc.dispose()
        if state.files_lost:
            state.files_lost = False
            note += (
                "[sandbox: the sandbox was restarted after its fork server ended; the files "
                "of the working directory were lost (variables too)]\n"
            )
        after = files.snapshot(state.ws_fd)
        changed = files.infos(after, files.changed(before, after))
        result["stderr"] = note + result["stderr"]
        return build_result(result, changed, start, self.limits)
