"""cgroup v1 memory and pids controllers for one session (host side), when writable."""

from __future__ import annotations

import os
import time

_ROOT = "/sys/fs/cgroup"


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


def _parent(controller: str) -> str | None:
    rel = _own_path(controller)
    if rel is None:
        return None
    path = os.path.join(_ROOT, controller, rel.lstrip("/"))
    if os.path.isdir(path) and os.access(path, os.W_OK):
        return path
    return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class SessionCgroup:
    """Memory and pids cgroups named codexec-<host pid>-<n>; any part may be unavailable."""

    def __init__(self, name: str, memory_mb: int, max_procs: int) -> None:
        self.memory: str | None = None
        self.pids: str | None = None
        mem_parent = _parent("memory")
        if mem_parent:
            try:
                path = os.path.join(mem_parent, name)
                os.makedirs(path, exist_ok=True)
                limit = str(memory_mb * 1024 * 1024)
                _write(os.path.join(path, "memory.limit_in_bytes"), limit)
                memsw = os.path.join(path, "memory.memsw.limit_in_bytes")
                if os.path.exists(memsw):
                    try:
                        _write(memsw, limit)
                    except OSError:
                        pass
                self.memory = path
            except OSError:
                self.memory = None
        pids_parent = _parent("pids")
        if pids_parent:
            try:
                path = os.path.join(pids_parent, name)
                os.makedirs(path, exist_ok=True)
                _write(os.path.join(path, "pids.max"), str(max_procs))
                self.pids = path
            except OSError:
                self.pids = None

    def add(self, pid: int) -> None:
        for path in (self.memory, self.pids):
            if path:
                _write(os.path.join(path, "cgroup.procs"), str(pid))

    def oom_kills(self) -> int:
        if not self.memory:
            return 0
        text = _read(os.path.join(self.memory, "memory.oom_control"))
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return int(_read(os.path.join(self.memory, "memory.failcnt")).strip() or 0)

    def process_count(self) -> int:
        for path in (self.pids, self.memory):
            if path:
                return len(_read(os.path.join(path, "cgroup.procs")).split())
        return 0

    def wait_empty(self, timeout_s: float = 2.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.process_count() and time.monotonic() < deadline:
            time.sleep(0.002)

    def remove(self) -> None:
        self.wait_empty()
        for path in (self.memory, self.pids):
            if path:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        self.memory = self.pids = None
