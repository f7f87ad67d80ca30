"""The fork server: `python -m sandbox.jail.zygote --fd N ...` (started by sandbox.client).

It isolates itself (namespaces, minimal read-only root), imports the heavy libraries once,
single-threaded, then serves the host. A forked helper (the forker) keeps a small pool of
ready sessions so a new Sandbox costs a message, not a fork. Each session is forked as pid 1
of a fresh pid namespace (killing it kills its whole tree) and enters its own mount, network
and IPC namespaces. Death propagates downwards: zygote -> forker -> sessions
(PR_SET_PDEATHSIG); an unclaimed session also exits when its pool socket closes.
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from typing import Any

from sandbox import _libc as c
from sandbox import cgroups
from sandbox.jail import allowlist, isolation
from sandbox.jail.isolation import log
from sandbox.jail.pool import MAX_FDS, POOL_SIZE, Config, forker_main

PRELOAD_FULL = (
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "seaborn",
    "scipy",
    "scipy.stats",
    "scipy.optimize",
    "scipy.integrate",
    "scipy.linalg",
    "scipy.special",
    "sympy",
    "mpmath",
    "tabulate",
)
PRELOAD = {
    "full": PRELOAD_FULL,
    "light": ("numpy", "matplotlib", "matplotlib.pyplot"),  # one-shot CLI runs
}
FORKERS = max(1, min(2, os.cpu_count() or 1))  # forks of big processes run in parallel
_CLAIM_TIMEOUT_S = 60.0


def preload(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # a missing optional library must not stop the zygote
            log(f"preload of {name} failed: {type(e).__name__}: {e}")
    if "pandas" in modules:
        _warm_plotting()
    try:
        import sandbox.jail.seccomp  # noqa: F401
    except Exception as e:
        log(f"seccomp filter unavailable: {type(e).__name__}: {e}")


def _warm_plotting() -> None:
    """Draw and save one tiny pandas plot, so lazy imports and Agg/font set-up happen here
    once instead of in every session's first figure."""
    try:
        import io

        import matplotlib.pyplot as plt
        import pandas as pd

        pd.Series([1, 2]).plot()
        plt.savefig(io.BytesIO(), format="png")
        plt.close("all")
    except Exception as e:
        log(f"plotting warm-up failed: {type(e).__name__}: {e}")


# -- the zygote's request loop ----------------------------------------------------------------
class Zygote:
    def __init__(self, sock: socket.socket, cfg: Config, workspaces: str) -> None:
        self.sock = sock
        self.cfg = cfg
        self.workspaces = workspaces
        self.pool: collections.deque[tuple[dict[str, Any], socket.socket]] = collections.deque()
        self.doomed: list[str] = []  # workspaces to remove
        self.forkers: list[socket.socket] = []
        for i in range(FORKERS):
            self.forkers.append(self._start_forker(i, FORKERS))

    def _start_forker(self, index: int, count: int) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                self.sock.close()
                for other in self.forkers:
                    other.close()
                forker_main(self.cfg, theirs, index + 1, count)
            finally:
                os._exit(1)
        theirs.close()
        return ours

    def _take_members(self, timeout_s: float) -> None:
        """Move every pooled session the forkers have announced into the pool."""
        ready, _, _ = select.select(self.forkers, [], [], timeout_s)
        if not ready:
            raise RuntimeError("no pooled session became ready in time")
        for forker in ready:
            data, fds, _, _ = socket.recv_fds(forker, 1 << 16, 1)
            if not data or not fds:
                raise RuntimeError("a session forker exited")
            info = json.loads(data)
            info["forker"] = self.forkers.index(forker)
            self.pool.append((info, socket.socket(fileno=fds[0])))

    def serve(self) -> None:
        while True:
            # Workspaces of closed sessions are removed when no request waits (an unmount
            # costs an RCU grace period: not on a new session's path).
            idle = 0.0 if self.doomed else None
            ready, _, _ = select.select([self.sock, *self.forkers], [], [], idle)
            if self.doomed and (not ready or len(self.doomed) > 16):
                isolation.remove_workspace(self.doomed.pop(), self.cfg.level)
            if not ready:
                continue
            if any(f in ready for f in self.forkers):
                try:
                    self._take_members(0)
                except (RuntimeError, OSError) as e:
                    log(f"zygote: {e}")
                    self.shutdown()
            if self.sock not in ready:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, MAX_FDS)
            except OSError:
                data, fds = b"", []
            if not data:
                self.shutdown()
            try:
                reply = self.handle(json.loads(data), fds)
            except Exception as e:
                reply = {"error": f"{type(e).__name__}: {e}"}
            finally:
                for fd in fds:
                    os.close(fd)
            self.sock.send(json.dumps(reply).encode())

    def shutdown(self) -> None:
        os._exit(0)  # the forker and the sessions follow via PR_SET_PDEATHSIG

    def handle(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        op = req.get("op")
        sid = int(req.get("sid", -1))
        ws = os.path.join(self.workspaces, f"ws-{sid}")
        if op == "spawn":
            if len(fds) != 3:
                raise ValueError("spawn needs 3 fds")
            if self.cfg.level != "root":
                req["uid"] = os.getuid()  # one mapped uid (0) in a user namespace
            if not os.path.isdir(ws):
                size = req["limits"]["max_workspace_mb"]
                isolation.make_workspace(ws, req["uid"], req["uid"], size, self.cfg.level)
            claim = json.dumps({**req, "ws": ws}).encode()
            for _ in range(POOL_SIZE + 3):
                if not self.pool:
                    self._take_members(_CLAIM_TIMEOUT_S)
                info, member = self.pool.popleft()
                self.forkers[info.pop("forker")].send(b"1")
                try:
                    socket.send_fds(member, [claim], fds)
                except OSError:  # that pooled session died; take the next
                    continue
                finally:
                    member.close()
                return info
            raise RuntimeError("pooled sessions keep dying")
        if op == "close":
            if os.path.isdir(ws) and ws not in self.doomed:
                self.doomed.append(ws)
            return {"ok": True}
        if op == "ping":
            return {"ok": True, "pool": len(self.pool)}
        return {"error": f"unknown op {op!r}"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.jail.zygote")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--preload", default="full", choices=sorted(PRELOAD))
    parser.add_argument("--workspaces", required=True, help="host dir for workspaces if no mounts")
    parser.add_argument("--bind", action="append", default=[], help="extra read-only path")
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    t0 = time.monotonic()
    level = isolation.enter_namespaces()
    preload(PRELOAD[args.preload])
    libs = allowlist.load_allowed_libs()
    cg = cgroups.discover()  # before the pivot: the cgroup tree is not in the sandbox root
    pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    workspaces = args.workspaces
    if level != "none":
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # sandbox/
        paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, package, *args.bind]
        try:
            isolation.build_root(paths, level, args.workspaces)
            workspaces = isolation.WORKSPACES
        except OSError as e:
            isolation.NO_ISOLATION_REASON = f"cannot build the sandbox root: {e}"
            level = "none"
    if threading.active_count() > 1:
        log(f"warning: {threading.active_count()} threads in the zygote before forking")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    gc.collect()
    gc.freeze()  # preloaded objects: never scanned again, so forks share their pages longer
    if os.environ.get("CODEXEC_THP", "1") == "1":
        try:
            c.collapse_to_huge_pages()
        except OSError:
            pass
    zygote = Zygote(sock, Config(level, cg.parents, libs, pid_ns), workspaces)
    ready = {"ready": True, "level": level, "pid": os.getpid(), "workspaces": workspaces}
    ready["no_isolation_reason"] = isolation.NO_ISOLATION_REASON
    ready["cgroup_version"] = cg.version
    ready["cgroup_problem"] = cg.problem
    ready["startup_s"] = round(time.monotonic() - t0, 3)
    sock.send(json.dumps(ready).encode())
    zygote.serve()


if __name__ == "__main__":
    main()
