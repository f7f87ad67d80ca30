"""Host side of the zygote: one fork server per host process, started lazily, thread-safe."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from typing import Any

from sandbox import cgroups
from sandbox.result import SandboxError

_STARTUP_TIMEOUT_S = 180.0
UNSAFE_ENV = "CODEXEC_UNSAFE_NO_ISOLATION"
WEAK_MEMORY_ENV = "CODEXEC_ALLOW_WEAK_MEMORY_LIMIT"
_REQUEST_TIMEOUT_S = 60.0
THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def base_env() -> dict[str, str]:
    """The environment of the zygote and the sessions: built from scratch, no host secrets."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": _mpl_cache_dir(),
    }
    env.update(dict.fromkeys(THREAD_ENV, "1"))
    return env


def _mpl_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "codexec", "matplotlib")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        path = os.path.join("/tmp", f"codexec-mpl-{os.getuid()}")
        os.makedirs(path, exist_ok=True)
    return path


class ZygoteClient:
    def __init__(self, preload: str = "full") -> None:
        self._lock = threading.Lock()
        self.workspaces_fd = -1
        self.pid = 0
        _remove_stale()

        self.host_workspaces = tempfile.mkdtemp(prefix=f"codexec-{os.getpid()}-")
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = base_env()
        env["HOME"] = "/tmp"
        env["PYTHONPATH"] = pkg_parent
        names = ("CODEXEC_DEBUG", "CODEXEC_SANDBOX_LEVEL", "CODEXEC_THP")
        for name in (*names, "CODEXEC_CGROUP_ROOT", "CODEXEC_CGROUP_PARENT"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        cmd = [sys.executable, "-s", "-m", "sandbox.jail.zygote", "--fd", str(child.fileno())]
        cmd += ["--preload", preload, "--workspaces", self.host_workspaces]
        cmd += ["--bind", env["MPLCONFIGDIR"]]
        self.proc = subprocess.Popen(
            cmd,
            pass_fds=[child.fileno()],
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.close()
        self.sock = parent
        self.sock.settimeout(_STARTUP_TIMEOUT_S)
        global _starting
        _starting = self.proc
        try:
            data = self.sock.recv(1 << 16)
        except OSError as e:
            self.proc.kill()
            raise SandboxError(f"sandbox zygote did not start: {e}") from e
        finally:
            _starting = None
        if not data:
            self.proc.wait()
            raise SandboxError(f"sandbox zygote exited with status {self.proc.returncode}")
        ready = json.loads(data)
        self.sock.settimeout(_REQUEST_TIMEOUT_S)
        self.level: str = ready["level"]
        self.pid = int(ready["pid"])
        self.startup_s: float = ready.get("startup_s", 0.0)
        self.cgroup_version: int | None = ready.get("cgroup_version")
        self.weak_memory = self.cgroup_version is None
        if self.weak_memory:
            self._allow_weak_memory(ready.get("cgroup_problem") or "no usable memory cgroup")
        if self.level == "none":
            reason = ready.get("no_isolation_reason", "")
            if not os.environ.get(UNSAFE_ENV):
                self.close()
                raise SandboxError(
                    f"no OS isolation available on this machine ({reason}); refusing to run "
                    f"code unisolated (set {UNSAFE_ENV}=1 to allow it)"
                )
            print(f"sandbox: WARNING: running code WITHOUT isolation ({reason})", file=sys.stderr)
            ws = self.host_workspaces
        else:
            ws = f"/proc/{self.pid}/root{ready['workspaces']}"
        self.workspaces_fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def _allow_weak_memory(self, problem: str) -> None:
        """Without a memory cgroup the memory limit (shared memory, tmpfs) and the CPU quota
        would not hold: refuse, unless the operator opted in to the weaker mode."""
        if os.environ.get(WEAK_MEMORY_ENV) == "1" or os.environ.get(UNSAFE_ENV):
            print(
                f"sandbox: WARNING: no memory cgroup ({problem}); {WEAK_MEMORY_ENV}=1: memory is "
                "bounded by RLIMIT_DATA and the tmpfs sizes only (shared memory and files in "
                "/tmp count against no limit) and there is no CPU quota",
                file=sys.stderr,
            )
            return
        self.close()
        raise SandboxError(
            f"no memory cgroup for the sandbox sessions: {problem}. Without one the memory "
            "limit and the CPU quota do not hold, so the sandbox refuses to run code. Run as "
            "root on a host with cgroup v1, or give it a delegated cgroup v2 subtree (see "
            f"sandbox/cgroups.py); or set {WEAK_MEMORY_ENV}=1 to run with weaker limits."
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def ended_within(self, seconds: float) -> bool:
        """Whether the fork server has ended or ends within `seconds`. A killed pid-namespace
        init is reported dead only after its children are reaped, so a session's death can be
        seen a moment before the fork server's."""
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return False
        return True

    def request(self, req: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        with self._lock:
            try:
                data = json.dumps(req).encode()
                if fds:
                    socket.send_fds(self.sock, [data], fds)
                else:
                    self.sock.send(data)
                reply = self.sock.recv(1 << 16)
            except OSError as e:
                raise SandboxError(f"sandbox zygote request failed: {e}") from e
        if not reply:
            raise SandboxError("sandbox zygote exited unexpectedly")
        result: dict[str, Any] = json.loads(reply)
        if "error" in result:
            raise SandboxError(f"sandbox zygote: {result['error']}")
        return result

    def close(self) -> None:
        self.sock.close()
        if self.workspaces_fd >= 0:
            os.close(self.workspaces_fd)
            self.workspaces_fd = -1
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        cgroups.remove_stale(self.pid)
        shutil.rmtree(self.host_workspaces, ignore_errors=True)


def _remove_stale() -> None:
    """Remove what hosts that were killed left behind (their zygotes exited with them)."""
    cgroups.remove_stale()
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "codexec" and parts[1].isdigit():
            if not os.path.exists(f"/proc/{parts[1]}"):
                shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)


_client: ZygoteClient | None = None
_client_lock = threading.Lock()
_starting: subprocess.Popen[bytes] | None = None  # a zygote still starting (get_client waits)


def get_client() -> ZygoteClient:
    """The process-wide zygote, (re)started on first use."""
    global _client
    with _client_lock:
        if _client is None or not _client.alive():
            if _client is not None:
                _client.close()
            preload = os.environ.get("CODEXEC_SANDBOX_PRELOAD", "full")
            _client = ZygoteClient(preload if preload in ("full", "light") else "full")
        return _client


def prewarm() -> None:
    """Start the zygote now (it takes a few seconds) instead of on the first Sandbox."""
    get_client()


def isolation_level() -> str:
    """The isolation level: "root", "userns" or "none" (see sandbox.jail.isolation)."""
    return get_client().level


def _shutdown() -> None:
    """At exit. A zygote still starting (a prewarm, when Ctrl-C came) is killed rather than
    waited for: its startup takes seconds, and the process must exit at once."""
    global _client
    if not _client_lock.acquire(timeout=0.2):
        starting = _starting
        if starting is not None:
            starting.kill()  # the waiting get_client then fails and lets go of the lock
        if not _client_lock.acquire(timeout=5):
            return
    try:
        if _client is not None:
            _client.close()
            _client = None
    finally:
        _client_lock.release()


def _after_fork_in_child() -> None:
    global _client, _client_lock
    _client = None  # the parent's zygote belongs to the parent
    _client_lock = threading.Lock()


atexit.register(_shutdown)
os.register_at_fork(after_in_child=_after_fork_in_child)
