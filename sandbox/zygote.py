"""The fork server: `python -m sandbox.zygote --fd N` (started by sandbox.client).

It isolates itself (namespaces, minimal read-only root), imports the heavy libraries once,
single-threaded, then forks one session per request. Each session: fork -> unshare a pid (and
mount) namespace -> fork again, so the session interpreter is pid 1 of its own namespace and
killing it kills its whole process tree. The middle process waits for it and dies with the zygote.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

from sandbox import _libc as c
from sandbox import allowlist, isolation, runner
from sandbox.isolation import log

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
_MAX_FDS = 8


def preload(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # a missing optional library must not stop the zygote
            log(f"preload of {name} failed: {type(e).__name__}: {e}")
    try:
        import sandbox.seccomp  # noqa: F401
    except Exception as e:
        log(f"seccomp filter unavailable: {type(e).__name__}: {e}")


def _install_seccomp() -> None:
    try:
        from sandbox.seccomp import install_filter

        install_filter()
    except Exception as e:
        print(f"sandbox: seccomp filter not installed: {type(e).__name__}: {e}", file=sys.stderr)


def _close_fds(keep: set[int]) -> None:
    for fd in os.listdir("/proc/self/fd"):
        n = int(fd)
        if n > 2 and n not in keep:
            try:
                os.close(n)
            except OSError:
                pass


class Zygote:
    def __init__(self, sock: socket.socket, level: str, workspaces: str, libs: list[str]) -> None:
        self.sock = sock
        self.level = level
        self.workspaces = workspaces
        self.libs = libs
        self.sessions: dict[int, int] = {}  # sid -> session pid (host pid namespace)

    def serve(self) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, _MAX_FDS)
            except OSError:
                data, fds = b"", []
            if not data:
                self.shutdown()
            req = json.loads(data)
            try:
                reply = self.handle(req, fds)
            except Exception as e:
                reply = {"error": f"{type(e).__name__}: {e}"}
            finally:
                for fd in fds:
                    os.close(fd)
            self.sock.send(json.dumps(reply).encode())

    def shutdown(self) -> None:
        for pid in self.sessions.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(0)

    def handle(self, req: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        op = req.get("op")
        sid = int(req.get("sid", -1))
        ws = os.path.join(self.workspaces, f"ws-{sid}")
        if op == "spawn":
            if not os.path.ismount(ws) and not os.path.isdir(ws):
                limits = req["limits"]
                isolation.make_workspace(
                    ws, req["uid"], req["uid"], limits["max_workspace_mb"], self.level
                )
            pid = self.spawn(ws, req, fds)
            self.sessions[sid] = pid
            return {"pid": pid}
        if op == "close":
            pid = self.sessions.pop(sid, None)
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if os.path.isdir(ws):
                isolation.remove_workspace(ws, self.level)
            return {"ok": True}
        if op == "ping":
            return {"ok": True}
        return {"error": f"unknown op {op!r}"}

    def spawn(self, ws: str, req: dict[str, Any], fds: list[int]) -> int:
        ctl_fd, out_fd, err_fd = fds
        rpipe, wpipe = os.pipe()
        middle = os.fork()
        if middle == 0:
            try:
                os.close(rpipe)
                self._middle(ws, req, ctl_fd, out_fd, err_fd, wpipe)
            finally:
                os._exit(1)
        os.close(wpipe)
        with os.fdopen(rpipe, "rb") as f:
            data = f.read()
        if not data.strip().isdigit():
            raise RuntimeError(f"session did not start: {data.decode(errors='replace')}")
        return int(data)

    def _middle(
        self, ws: str, req: dict[str, Any], ctl_fd: int, out_fd: int, err_fd: int, wpipe: int
    ) -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        try:
            c.prctl(c.PR_SET_PDEATHSIG, signal.SIGKILL)
            self.sock.close()
            if self.level != "none":
                c.unshare(c.CLONE_NEWPID | c.CLONE_NEWNS)
            child = os.fork()
        except Exception as e:
            os.write(wpipe, f"{type(e).__name__}: {e}".encode())
            os._exit(1)
        if child == 0:
            os.close(wpipe)
            self._session(ws, req, ctl_fd, out_fd, err_fd)
            os._exit(1)
        os.write(wpipe, str(child).encode())
        os.close(wpipe)
        for fd in (ctl_fd, out_fd, err_fd):
            os.close(fd)
        _close_fds(set())
        while True:
            try:
                os.waitpid(child, 0)
                os._exit(0)
            except ChildProcessError:
                os._exit(0)
            except InterruptedError:
                continue

    def _session(self, ws: str, req: dict[str, Any], ctl_fd: int, out_fd: int, err_fd: int) -> None:
        ctl = socket.socket(fileno=ctl_fd)
        try:
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_fd, 1)
            os.dup2(err_fd, 2)
            _close_fds({ctl_fd})
            limits = req["limits"]
            ws = isolation.setup_session(ws, req["uid"], req["uid"], limits, self.level)
            c.prctl(c.PR_SET_PDEATHSIG, signal.SIGKILL)
            os.environ.clear()
            os.environ.update(req["env"])
            os.environ["HOME"] = ws
            os.environ["PWD"] = ws
            sys.argv = [""]
            sys.path = [p for p in sys.path if p not in ("", ".")]
            allowlist.install(self.libs)
            run = runner.Runner(ctl, limits)
            _install_seccomp()
        except BaseException as e:  # noqa: BLE001
            print(f"sandbox: session setup failed: {type(e).__name__}: {e}", file=sys.stderr)
            os._exit(70)
        run.loop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.zygote")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--preload", default="full", choices=("full", "none"))
    parser.add_argument("--workspaces", required=True, help="host dir for workspaces if no mounts")
    parser.add_argument("--bind", action="append", default=[], help="extra read-only path")
    args = parser.parse_args()
    sock = socket.socket(fileno=args.fd)
    t0 = time.monotonic()
    level = isolation.enter_namespaces()
    preload(PRELOAD_FULL if args.preload == "full" else ())
    libs = allowlist.load_allowed_libs()
    workspaces = args.workspaces
    if level != "none":
        here = os.path.dirname(os.path.abspath(__file__))
        paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, here, *args.bind]
        try:
            isolation.build_root(paths, level)
            workspaces = isolation.WORKSPACES
        except OSError as e:
            log(f"WARNING: cannot build the sandbox root ({e}); no filesystem isolation")
            level = "none"
    if threading.active_count() > 1:
        log(f"warning: {threading.active_count()} threads in the zygote before forking")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    ready = {"ready": True, "level": level, "pid": os.getpid(), "workspaces": workspaces}
    ready["startup_s"] = round(time.monotonic() - t0, 3)
    sock.send(json.dumps(ready).encode())
    Zygote(sock, level, workspaces, libs).serve()


if __name__ == "__main__":
    main()
