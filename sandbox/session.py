"""`Sandbox`: one stateful session (one live, isolated interpreter forked from the zygote)."""

from __future__ import annotations

import atexit
import itertools
import os
import queue
import select
import signal
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from sandbox import files
from sandbox.cgroups import SessionCgroup
from sandbox.client import ZygoteClient, base_env, get_client
from sandbox.limits import Limits
from sandbox.output import CappedBuffer
from sandbox.protocol import MessageReader, send_msg
from sandbox.result import ErrorInfo, ExecutionResult, Figure, FileInfo, SandboxError, Verdict

_ids = itertools.count(1)
_ids_lock = threading.Lock()
_UID_BASE = 100_000
_FLOOD_FACTOR = 16  # output beyond this many times the cap kills the run


def _session_uid(sid: int) -> int:
    # Distinct per host process and per session, so sessions cannot signal each other.
    return _UID_BASE + ((os.getpid() % 4096) << 12) + (sid % 4096)


class _Process:
    """One live session interpreter and its pipes (host side)."""

    def __init__(self, client: ZygoteClient, sid: int, uid: int, limits: Limits) -> None:
        self.ctl, child_ctl = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        req = {
            "op": "spawn",
            "sid": sid,
            "uid": uid,
            "limits": limits.model_dump(),
            "env": base_env(),
        }
        try:
            reply = client.request(req, [child_ctl.fileno(), out_w, err_w])
        except BaseException:
            for fd in (out_r, err_r):
                os.close(fd)
            self.ctl.close()
            raise
        finally:
            child_ctl.close()
            os.close(out_w)
            os.close(err_w)
        self.pid: int = reply["pid"]
        self.out, self.err = out_r, err_r
        self.pidfd = os.pidfd_open(self.pid)
        self.level = client.level
        cg = reply.get("cgroups") or {}
        self.cgroup = SessionCgroup(cg.get("memory"), cg.get("pids"))
        self.alive = True

    def signal_kill(self) -> None:
        """SIGKILL the session's pid 1 (the kernel then kills its whole pid namespace)."""
        self.alive = False
        if self.pidfd < 0:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            if self.level == "none":
                os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def wait_dead(self, timeout_s: float = 5.0) -> None:
        if self.pidfd >= 0:
            select.select([self.pidfd], [], [], timeout_s)
        self.cgroup.wait_empty(timeout_s)

    def kill(self) -> None:
        self.signal_kill()
        self.wait_dead()

    def close_fds(self) -> None:
        self.alive = False
        self.ctl.close()
        for fd in (self.out, self.err, self.pidfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.out = self.err = self.pidfd = -1

    def dispose(self) -> None:
        """Kill (if needed), wait for the whole tree, free the fds and the cgroups."""
        self.kill()
        self.close_fds()
        self.cgroup.remove()


class _Reaper:
    """Finishes closes in the background, so Sandbox.close() costs a signal, not a wait."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="sandbox-reaper", daemon=True
                )
                self._thread.start()
        self._queue.put(job)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is not None:
                    job()
            except Exception:
                pass
            finally:
                self._queue.task_done()

    def drain(self) -> None:
        """Wait until every submitted close has finished."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.join()


_reaper = _Reaper()
atexit.register(_reaper.drain)


def wait_closed() -> None:
    """Block until all closed sandboxes are fully cleaned up (processes reaped, dirs removed)."""
    _reaper.drain()


class _State:
    """Everything a Sandbox owns; closed by Sandbox.close or its finalizer."""

    def __init__(self, limits: Limits) -> None:
        with _ids_lock:
            self.sid = next(_ids)
        self.uid = _session_uid(self.sid)
        self.limits = limits
        self.client = get_client()
        self.proc: _Process | None = None
        self.ws_fd = -1
        self.closed = False

    def ensure_process(self) -> _Process:
        if self.proc is None or not self.proc.alive:
            if self.proc is not None:
                self.proc.dispose()
            self.proc = _Process(self.client, self.sid, self.uid, self.limits)
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
            _reaper.submit(finish)


class Sandbox:
    """One stateful, isolated Python session. Use from one thread at a time."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._state = _State(self.limits)
        self._finalizer = weakref.finalize(self, self._state.close)
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

    def put_file(self, name: str, data: bytes | str) -> FileInfo:
        state = self._check_open()
        if isinstance(data, str):
            data = data.encode()
        limit = self.limits.max_input_file_mb * 1024 * 1024
        if len(data) > limit:
            raise SandboxError(f"file {name!r} has {len(data)} bytes; the limit is {limit}")
        state.ensure_process()
        files.write_file(state.ws_fd, name, data, state.uid)
        return FileInfo(name=name, size=len(data), mime_type=files.mime_type(name))

    def list_files(self) -> list[FileInfo]:
        state = self._check_open()
        state.ensure_process()
        return files.infos(files.snapshot(state.ws_fd))

    def read_file(self, name: str) -> bytes:
        state = self._check_open()
        state.ensure_process()
        return files.read_file(state.ws_fd, name, self.limits.max_read_file_mb * 1024 * 1024)

    # -- running code ------------------------------------------------------------------------
    def run(self, code: str, timeout_s: float | None = None) -> ExecutionResult:
        state = self._check_open()
        if not isinstance(code, str):
            raise SandboxError("code must be a str")
        timeout = self.limits.timeout_s if timeout_s is None else float(timeout_s)
        if timeout <= 0:
            raise SandboxError("timeout_s must be positive")
        start = time.monotonic()
        try:
            proc = state.ensure_process()
        except SandboxError as e:
            return ExecutionResult.make(
                "internal_error", error=ErrorInfo(name="SandboxError", message=str(e))
            )
        before = files.snapshot(state.ws_fd)
        oom_before = proc.cgroup.oom_kills()
        result = _Run(proc, self.limits, timeout).execute(code)
        if result.get("died") and proc.cgroup.oom_kills() > oom_before:
            result["verdict"] = "memory_limit"
            result["error"] = {
                "name": "MemoryError",
                "message": f"the memory limit of {self.limits.memory_mb} MB was exceeded; "
                "the session was restarted (variables lost, files kept)",
                "traceback": "",
            }
        if not proc.alive:
            proc.dispose()
        after = files.snapshot(state.ws_fd)
        return _build_result(result, files.infos(after, files.changed(before, after)), start)


def _build_result(raw: dict[str, Any], changed: list[FileInfo], start: float) -> ExecutionResult:
    verdict: Verdict = raw["verdict"]
    error = raw.get("error")
    figures = [Figure(data=d) for d in raw.get("figures", []) if isinstance(d, str)]
    return ExecutionResult.make(
        verdict,
        stdout=raw["stdout"],
        stderr=raw["stderr"],
        error=ErrorInfo(**error) if isinstance(error, dict) else None,
        figures=figures,
        files=changed,
        duration_s=round(time.monotonic() - start, 6),
    )


class _Run:
    """One run: send the code, pump stdout/stderr with caps, enforce the wall clock."""

    def __init__(self, proc: _Process, limits: Limits, timeout: float) -> None:
        self.proc = proc
        self.limits = limits
        self.timeout = timeout
        self.out = CappedBuffer(limits.max_output_bytes)
        self.err = CappedBuffer(limits.max_output_bytes)
        max_reply = limits.max_figures * limits.max_figure_bytes * 2 + (16 << 20)
        self.reader = MessageReader(max_reply)

    def execute(self, code: str) -> dict[str, Any]:
        proc = self.proc
        try:
            send_msg(proc.ctl, {"op": "run", "code": code})
        except OSError:
            return self._died()
        proc.ctl.setblocking(False)
        deadline = time.monotonic() + self.timeout
        flood = self.limits.max_output_bytes * _FLOOD_FACTOR
        streams = {proc.out: self.out, proc.err: self.err}
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self._killed("timeout")
            ready, _, _ = select.select([proc.ctl, *streams], [], [], left)
            for fd in ready:
                if fd is proc.ctl:
                    try:
                        chunk = proc.ctl.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk:
                        return self._died()
                    try:
                        reply = self.reader.feed(chunk)
                    except ValueError:
                        return self._killed("internal_error")
                    if reply is not None:
                        proc.ctl.setblocking(True)
                        return self._finish(reply)
                else:
                    chunk = self._read(fd)
                    if chunk is None:
                        streams.pop(fd)
                        break
                    streams[fd].feed(chunk)
                    if self.out.dropped + self.err.dropped > flood:
                        return self._killed("output_limit")

    @staticmethod
    def _read(fd: int) -> bytes | None:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return b""
        return chunk or None

    def _drain(self, wait_s: float) -> None:
        """Read what is left in the pipes (already written, or until the writers die)."""
        deadline = time.monotonic() + wait_s
        for fd, buf in ((self.proc.out, self.out), (self.proc.err, self.err)):
            os.set_blocking(fd, False)
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0 or not select.select([fd], [], [], left)[0]:
                        break
                    continue
                if not chunk:
                    break
                buf.feed(chunk)
            os.set_blocking(fd, True)

    def _outputs(self) -> dict[str, Any]:
        return {"stdout": self.out.text(), "stderr": self.err.text()}

    def _finish(self, reply: Any) -> dict[str, Any]:
        self._drain(0.0)
        if not isinstance(reply, dict):
            reply = {}
        verdict = reply.get("verdict")
        if verdict not in (
            "ok",
            "runtime_error",
            "timeout",
            "memory_limit",
            "import_blocked",
            "internal_error",
        ):
            verdict = "internal_error"
        if verdict == "ok" and (self.out.truncated or self.err.truncated):
            verdict = "output_limit"
        error = reply.get("error") if isinstance(reply.get("error"), dict) else None
        figures = reply.get("figures") if isinstance(reply.get("figures"), list) else []
        return {"verdict": verdict, "error": error, "figures": figures, **self._outputs()}

    def _died(self) -> dict[str, Any]:
        self._drain(0.5)
        self.proc.kill()
        return {
            "verdict": "runtime_error",
            "died": True,
            "error": {
                "name": "SandboxProcessExit",
                "message": "the Python process ended during the run (os._exit, a crash or a "
                "kill signal); the session was restarted (variables lost, files kept)",
                "traceback": "",
            },
            **self._outputs(),
        }

    def _killed(self, verdict: Verdict) -> dict[str, Any]:
        self.proc.kill()
        self._drain(0.5)
        messages = {
            "timeout": f"execution exceeded the time limit of {self.timeout:g} s",
            "output_limit": "the output was far beyond the limit of "
            f"{self.limits.max_output_bytes} bytes",
            "internal_error": "the session sent an invalid reply",
        }
        names = {"timeout": "TimeoutError", "output_limit": "OutputLimitExceeded"}
        return {
            "verdict": verdict,
            "error": {
                "name": names.get(verdict, "SandboxError"),
                "message": messages[verdict]
                + "; the session was restarted (variables lost, files kept)",
                "traceback": "",
            },
            **self._outputs(),
        }
