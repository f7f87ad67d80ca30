"""cgroup v1 memory and pids controllers for sessions, when the host makes them writable.

The zygote opens the parent directories (its own cgroups) before it pivots into the sandbox
root; each pooled session creates and joins `codexec-<zygote pid>-<n>` through those fds and
sets its limits when claimed. The host only reads counters and removes the directories.
"""

from __future__ import annotations

import os
import time

ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "pids")
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _own_path(controller: str) -> str | None:
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, names, path = line.rstrip("\n").split(":", 2)
                if controller in names.split(","):
                    return path
    except OSError:
        pass
    return None


def open_parents() -> dict[str, tuple[str, int]]:
    """controller -> (host path, dir fd) of this process's writable v1 cgroups."""
    found: dict[str, tuple[str, int]] = {}
    for controller in CONTROLLERS:
        rel = _own_path(controller)
        if rel is None:
            continue
        path = os.path.join(ROOT, controller, rel.lstrip("/"))
        if os.path.isdir(path) and os.access(path, os.W_OK):
            try:
                found[controller] = (path, os.open(path, _DIR))
            except OSError:
                pass
    return found


def remove_stale(zygote_pid: int | None = None) -> None:
    """Remove the session cgroups of a zygote that has exited (or of every dead zygote)."""
    for _, parent_fd in open_parents().values():
        try:
            names = os.listdir(parent_fd)
        except OSError:
            names = []
        for name in names:
            parts = name.split("-")
            if len(parts) != 3 or parts[0] != "codexec" or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            if pid == zygote_pid or (zygote_pid is None and not os.path.exists(f"/proc/{pid}")):
                for _ in range(100):
                    try:
                        os.rmdir(name, dir_fd=parent_fd)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.01)  # its processes are still exiting
        os.close(parent_fd)


def _write_at(dir_fd: int, name: str, value: str) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def join(parent_fd: int, name: str) -> int:
    """Create cgroup `name` under the parent and move the calling process into it."""
    try:
        os.mkdir(name, dir_fd=parent_fd)
    except FileExistsError:
        pass
    fd = os.open(name, _DIR, dir_fd=parent_fd)
    try:
        _write_at(fd, "cgroup.procs", "0")
    except OSError:
        os.close(fd)
        raise
    return fd


def set_limits(fds: dict[str, int], memory_mb: int, max_procs: int) -> None:
    if "memory" in fds:
        limit = str(memory_mb * 1024 * 1024)
        _write_at(fds["memory"], "memory.limit_in_bytes", limit)
        try:
            _write_at(fds["memory"], "memory.memsw.limit_in_bytes", limit)
        except OSError:
            pass  # no swap accounting
    if "pids" in fds:
        _write_at(fds["pids"], "pids.max", str(max_procs))


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class SessionCgroup:
    """Host-side view of one session's cgroups (paths may be None)."""

    def __init__(self, memory: str | None = None, pids: str | None = None) -> None:
        self.memory = memory
        self.pids = pids

    def oom_kills(self) -> int:
        if not self.memory:
            return 0
        for line in _read(os.path.join(self.memory, "memory.oom_control")).splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return int(_read(os.path.join(self.memory, "memory.failcnt")).strip() or 0)

    def pids_list(self) -> list[int]:
        """Host pids in the session's cgroup (empty when there is none)."""
        for path in (self.pids, self.memory):
            if path:
                return [int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()]
        return []

    def process_count(self) -> int:
        return len(self.pids_list())

    def wait_empty(self, timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.process_count():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True

    def remove(self) -> None:
        self.wait_empty()
        for path in (self.memory, self.pids):
            if path:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        self.memory = self.pids = None
