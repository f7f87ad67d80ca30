"""Pooled sessions: the forker process keeps ready sessions, each pid 1 of a fresh pid
namespace with its own mount, network and IPC namespaces, waiting to be claimed.

Before the claim a session mounts its own /proc, joins its cgroups and warms up; the claim
(limits, uid, workspace, the host's pipes) then only costs mounts, setresuid and the filter.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

from sandbox import _libc as c
from sandbox import cgroups
from sandbox.jail import allowlist, isolation, runner
from sandbox.jail.isolation import log

POOL_SIZE = 2  # ready sessions per forker
MAX_FDS = 8
DEBUG = bool(os.environ.get("CODEXEC_DEBUG"))


def _install_seccomp() -> None:
    """Install the syscall filter; a missing module is tolerated, a failing filter is not."""
    try:
        from sandbox.jail.seccomp import install_filter
    except ImportError:
        return  # logged once by preload()
    install_filter()


def close_fds(keep: set[int]) -> None:
    """Close every fd above 2 except `keep` (close_range; no /proc, which may be remounted)."""
    start = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, 1 << 20)


class Config:
    """What every process forked from the zygote needs to know."""

    def __init__(
        self, level: str, cg_parents: dict[str, tuple[str, int]], libs: list[str], pid_ns: int
    ) -> None:
        self.level = level
        self.cg_parents = cg_parents
        self.libs = libs
        self.zygote_pid = os.getpid()
        self.own_pid_ns = pid_ns


# -- a pooled session (runs in the pid-1 process of a new pid namespace) ----------------------
def _session_main(cfg: Config, pool_sock: socket.socket, cg_name: str) -> None:
    cg_fds: dict[str, int] = {}
    try:
        isolation.prepare_session(cfg.level)
        for controller, (_, parent_fd) in cfg.cg_parents.items():
            try:
                cg_fds[controller] = cgroups.join(parent_fd, cg_name)
            except OSError as e:
                log(f"cannot join the {controller} cgroup: {e}")
        # Nothing of the zygote's stays open (its sockets, cgroup and namespace fds), before
        # the warm-up opens what the session keeps (font files, say).
        close_fds({pool_sock.fileno(), *cg_fds.values()})
        run = runner.Runner()
        allowlist.install(cfg.libs, run.namespace)
        run.warm_up()
        data, fds, _, _ = socket.recv_fds(pool_sock, 1 << 16, MAX_FDS)
    except BaseException as e:  # noqa: BLE001
        log(f"pooled session failed: {type(e).__name__}: {e}")
        os._exit(70)
    if not data or len(fds) != 3:
        os._exit(0)
    t_claim = time.perf_counter()
    pool_sock.close()
    req = json.loads(data)
    ctl_fd, out_fd, err_fd = fds
    ctl = socket.socket(fileno=ctl_fd)
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        limits = req["limits"]
        if not cgroups.has_memory(cg_fds) and not limits.get("weak_memory_ok"):
            raise OSError("the session has no memory cgroup, so its memory limit would not hold")
        cgroups.set_limits(cg_fds, limits["memory_mb"], limits["max_procs"], limits["cpus"])
        limits["rlimit_memory"] = not cgroups.has_memory(cg_fds)
        for fd in (out_fd, err_fd, *cg_fds.values()):
            os.close(fd)
        ws = isolation.setup_session(req["ws"], req["uid"], req["uid"], limits, cfg.level)
        c.prctl(c.PR_SET_PDEATHSIG, signal.SIGKILL)  # setresuid cleared it
        os.environ.clear()
        os.environ.update(req["env"])
        os.environ["HOME"] = os.environ["PWD"] = ws
        sys.argv = [""]
        sys.path = [p for p in sys.path if p not in ("", ".")]
        run.attach(ctl, limits, own_pid_ns=cfg.level != "none")
        _install_seccomp()
        if DEBUG:
            print(f"claim setup {1000 * (time.perf_counter() - t_claim):.2f} ms", file=sys.stderr)
    except BaseException as e:  # noqa: BLE001
        runner.refuse(ctl, f"session setup failed: {type(e).__name__}: {e}")
    run.loop()


def _fork_session(cfg: Config, own_pid_ns: int) -> int:
    """fork() a process that is pid 1 of a fresh pid namespace (returns its host pid)."""
    if cfg.level == "none":
        return os.fork()
    if cfg.level == "userns":
        return _fork_via_middle()
    # unshare(CLONE_NEWPID) aims our next child there; setns() back to our own namespace makes
    # the next unshare possible (needs CAP_SYS_ADMIN over the host's pid namespace).
    c.unshare(c.CLONE_NEWPID)
    pid = os.fork()
    if pid != 0:
        c.setns(own_pid_ns, c.CLONE_NEWPID)
    return pid


def _fork_via_middle() -> int:
    """In a user namespace: a middle process unshares the pid namespace and forks the session,
    reports its pid and waits for it (the session dies with it: PR_SET_PDEATHSIG)."""
    rpipe, wpipe = os.pipe()
    middle = os.fork()
    if middle != 0:
        os.close(wpipe)
        with os.fdopen(rpipe, "rb") as f:
            data = f.read()
        if not data.isdigit():
            raise OSError(f"session did not start: {data.decode(errors='replace')}")
        return int(data)
    os.close(rpipe)
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        c.prctl(c.PR_SET_PDEATHSIG, signal.SIGKILL)
        c.unshare(c.CLONE_NEWPID)
        child = os.fork()
    except BaseException as e:  # noqa: BLE001
        os.write(wpipe, f"{type(e).__name__}: {e}".encode())
        os._exit(1)
    if child == 0:
        os.close(wpipe)
        return 0
    os.write(wpipe, str(child).encode())
    close_fds(set())
    while True:
        try:
            os.waitpid(child, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            pass
        os._exit(0)


def _pooled_child(cfg: Config, pool_sock: socket.socket, cg_name: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        c.prctl(c.PR_SET_PDEATHSIG, signal.SIGKILL)
        if cfg.level != "none":
            # Own mount, network and IPC namespaces: no abstract-socket or SysV channel between
            # sessions (made here, off the request path).
            c.unshare(c.CLONE_NEWNS | c.CLONE_NEWNET | c.CLONE_NEWIPC)
    except BaseException as e:  # noqa: BLE001
        log(f"pooled session failed: {type(e).__name__}: {e}")
        os._exit(70)
    _session_main(cfg, pool_sock, cg_name)


# -- the forker: keeps the zygote's pool full -------------------------------------------------
def forker_main(cfg: Config, zsock: socket.socket, first: int, step: int) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    c.prctl(c.PR_SET_PDEATHSIG, signal.SIGKILL)
    own_pid_ns = cfg.own_pid_ns
    tokens = POOL_SIZE
    for n in range(first, 1 << 62, step):
        while tokens <= 0:
            data = zsock.recv(64)
            if not data:
                os._exit(0)
            tokens += len(data)
        name = f"codexec-{cfg.zygote_pid}-{n}"
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = _fork_session(cfg, own_pid_ns)
        except OSError as e:
            log(f"cannot fork a session: {e}")
            ours.close()
            theirs.close()
            time.sleep(0.5)
            continue
        if pid == 0:
            try:
                zsock.close()
                ours.close()
                _pooled_child(cfg, theirs, name)
            finally:
                os._exit(1)
        theirs.close()
        paths = {ctl: os.path.join(path, name) for ctl, (path, _) in cfg.cg_parents.items()}
        msg = json.dumps({"pid": pid, "cgroups": paths}).encode()
        try:
            socket.send_fds(zsock, [msg], [ours.fileno()])
        except OSError:
            os._exit(0)
        ours.close()
        tokens -= 1
    os._exit(0)
