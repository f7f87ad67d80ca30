"""Session cgroups: memory (incl. shared memory and tmpfs), pids and a CPU quota per session.

cgroup v2 (the unified hierarchy: `memory.max`, `memory.swap.max`, `pids.max`, `cpu.max`) or
cgroup v1 (`memory.limit_in_bytes`, `pids.max`, `cpu.cfs_quota_us`, `cpu.shares`), whichever the
host makes writable; `discover()` says which, or why neither works. The zygote opens the parent
directories before it pivots into the sandbox root; each pooled session creates and joins
`codexec-<zygote pid>-<n>` through those fds and sets its limits when claimed. The host only
reads counters and removes the directories.

v2 needs a parent cgroup whose controllers can be given to children: the one named by
CODEXEC_CGROUP_PARENT (relative to the cgroup root), else this process's own cgroup. The
kernel lets a non-root cgroup delegate controllers only while no process lives in it, so a
server started inside its own cgroup (a systemd service, a container) needs an empty one, e.g.
`mkdir /sys/fs/cgroup/codexec`, `echo +memory +pids +cpu > /sys/fs/cgroup/cgroup.subtree_control`
and CODEXEC_CGROUP_PARENT=codexec (or `systemd-run -p Delegate=yes ...` when not root).
CODEXEC_CGROUP_ROOT moves the cgroup root (default /sys/fs/cgroup; tests use a fake tree).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

V1_CONTROLLERS = ("memory", "pids", "cpu")
V2_REQUIRED = ("memory", "pids")
UNIFIED = "unified"  # key of the single v2 directory in the parents/fds dicts
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
CPU_PERIOD_US = 100_000


def root() -> str:
    return os.environ.get("CODEXEC_CGROUP_ROOT", "/sys/fs/cgroup")


@dataclass
class Discovery:
    """What the host offers: version 1 or 2 with parent dirs (controller -> (path, fd)), or
    version None and the reason (`problem`) why there is no usable memory cgroup."""

    version: int | None = None
    parents: dict[str, tuple[str, int]] = field(default_factory=dict)
    problem: str = ""


def _own_path(controller: str | None) -> str | None:
    """This process's cgroup in the v1 hierarchy of `controller` (None: the v2 one)."""
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                hid, names, path = line.rstrip("\n").split(":", 2)
                if controller is None and hid == "0" and names == "":
                    return path
                if controller is not None and controller in names.split(","):
                    return path
    except OSError:
        pass
    return None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def discover() -> Discovery:
    base = root()
    if os.path.exists(os.path.join(base, "cgroup.controllers")):
        return _discover_v2(base)
    found = _discover_v1(base)
    if "memory" in found.parents:
        return found
    for _, fd in found.parents.values():
        os.close(fd)
    return Discovery(problem=found.problem)


def _discover_v1(base: str) -> Discovery:
    found = Discovery(version=1)
    for controller in V1_CONTROLLERS:
        rel = _own_path(controller)
        if rel is None:
            continue
        path = os.path.join(base, controller, rel.lstrip("/"))
        if os.path.isdir(path) and os.access(path, os.W_OK):
            try:
                found.parents[controller] = (path, os.open(path, _DIR))
            except OSError:
                pass
    if "memory" not in found.parents:
        found.problem = (
            f"no writable memory cgroup: {base} has no cgroup v2 (unified) hierarchy and the "
            f"cgroup v1 memory controller under {base}/memory is missing or not writable by "
            f"uid {os.geteuid()}"
        )
    return found


def _discover_v2(base: str) -> Discovery:
    named = os.environ.get("CODEXEC_CGROUP_PARENT")
    rel = named if named is not None else _own_path(None)
    how = "CODEXEC_CGROUP_PARENT" if named is not None else "this process's own cgroup"
    hint = (
        "use an empty delegated cgroup: as root `mkdir /sys/fs/cgroup/codexec` and set "
        "CODEXEC_CGROUP_PARENT=codexec; as a user `systemd-run --user -p Delegate=yes --scope` "
        "and a child cgroup of it"
    )
    if rel is None:
        return Discovery(problem=f"cgroup v2: cannot find this process's cgroup; {hint}")
    path = os.path.normpath(os.path.join(base, rel.lstrip("/")))
    if not os.path.isdir(path) or not os.access(path, os.W_OK):
        return Discovery(
            problem=f"cgroup v2: {path} ({how}) is missing or not writable by uid "
            f"{os.geteuid()} (not delegated to us); {hint}"
        )
    available = _read(os.path.join(path, "cgroup.controllers")).split()
    missing = [c for c in V2_REQUIRED if c not in available]
    if missing:
        return Discovery(
            problem=f"cgroup v2: {path} lacks the {', '.join(missing)} controller(s) "
            f"(its cgroup.controllers: {' '.join(available) or 'none'}); enable them in its "
            "parent's cgroup.subtree_control"
        )
    wanted = [c for c in (*V2_REQUIRED, "cpu") if c in available]
    enabled = _read(os.path.join(path, "cgroup.subtree_control")).split()
    if any(c not in enabled for c in wanted):
        try:
            with open(os.path.join(path, "cgroup.subtree_control"), "w") as f:
                f.write(" ".join(f"+{c}" for c in wanted))
        except OSError as e:
            busy = " (processes live in it, so it cannot delegate)" if e.errno == 16 else ""
            return Discovery(
                problem=f"cgroup v2: cannot enable {' '.join(wanted)} in "
                f"{path}/cgroup.subtree_control ({how}): {e.strerror}{busy}; {hint}"
            )
    return Discovery(version=2, parents={UNIFIED: (path, os.open(path, _DIR))})


def open_parents() -> dict[str, tuple[str, int]]:
    """controller -> (host path, dir fd) of the usable session parents ({} if none)."""
    return discover().parents


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


def set_limits(fds: dict[str, int], memory_mb: int, max_procs: int, cpus: float = 1.0) -> None:
    """The session's limits, through the fds `join` returned (v2: the UNIFIED key)."""
    limit = str(memory_mb * 1024 * 1024)
    quota = str(max(1000, int(cpus * CPU_PERIOD_US)))
    if UNIFIED in fds:
        fd = fds[UNIFIED]
        _write_at(fd, "memory.max", limit)
        for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
            try:
                _write_at(fd, name, value)
            except OSError:
                pass  # no swap accounting / an older kernel
        _write_at(fd, "pids.max", str(max_procs))
        try:
            _write_at(fd, "cpu.max", f"{quota} {CPU_PERIOD_US}")
        except OSError:
            pass  # the cpu controller is not delegated: memory and pids still hold
        return
    if "memory" in fds:
        _write_at(fds["memory"], "memory.limit_in_bytes", limit)
        try:
            _write_at(fds["memory"], "memory.memsw.limit_in_bytes", limit)
        except OSError:
            pass  # no swap accounting
    if "pids" in fds:
        _write_at(fds["pids"], "pids.max", str(max_procs))
    if "cpu" in fds:
        _write_at(fds["cpu"], "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write_at(fds["cpu"], "cpu.cfs_quota_us", quota)
        _write_at(fds["cpu"], "cpu.shares", str(max(2, int(1024 * cpus))))


def has_memory(fds: Mapping[str, object]) -> bool:
    return "memory" in fds or UNIFIED in fds


class SessionCgroup:
    """Host-side view of one session's cgroups (paths may be None)."""

    def __init__(
        self,
        memory: str | None = None,
        pids: str | None = None,
        unified: str | None = None,
        cpu: str | None = None,
    ) -> None:
        self.memory = memory
        self.pids = pids
        self.unified = unified
        self.cpu = cpu

    @property
    def present(self) -> bool:
        return bool(self.memory or self.pids or self.unified)

    def oom_kills(self) -> int:
        if self.unified:
            for line in _read(os.path.join(self.unified, "memory.events")).splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
            return 0
        if not self.memory:
            return 0
        for line in _read(os.path.join(self.memory, "memory.oom_control")).splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return int(_read(os.path.join(self.memory, "memory.failcnt")).strip() or 0)

    def pids_list(self) -> list[int]:
        """Host pids in the session's cgroup (empty when there is none)."""
        for path in (self.unified, self.pids, self.memory):
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
        for path in (self.unified, self.memory, self.pids, self.cpu):
            if path:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        self.memory = self.pids = self.unified = self.cpu = None
