"""Host side of one session interpreter: its pipes, pidfd and cgroups; background reaping."""

from __future__ import annotations

import atexit
import os
import queue
import select
import signal
import socket
import threading
from collections.abc import Callable

from sandbox import cgroups
from sandbox.cgroups import SessionCgroup
from sandbox.client import ZygoteClient, base_env
from sandbox.limits import Limits


class SessionProcess:
    """One live session interpreter and its pipes (host side)."""

    def __init__(self, client: ZygoteClient, sid: int, uid: int, limits: Limits) -> None:
        self.ctl, child_ctl = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        req = {
            "op": "spawn",
            "sid": sid,
            "uid": uid,
            "limits": {**limits.model_dump(), "weak_memory_ok": client.weak_memory},
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
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            self.pidfd = -1  # already gone: the first run reports it and restarts
        self.level = client.level
        cg = reply.get("cgroups") or {}
        self.cgroup = SessionCgroup(
            cg.get("memory"), cg.get("pids"), cg.get(cgroups.UNIFIED), cg.get("cpu")
        )
        self.alive = True
        self.paused = False
        self.idle_cpu_s = self.cpu_seconds()  # CPU time when the last run ended

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

    def exited(self) -> bool:
        """Has the interpreter ended (e.g. killed while idle, or its zygote died)?"""
        if self.pidfd < 0:
            return True
        return bool(select.select([self.pidfd], [], [], 0)[0])

    def pause(self) -> None:
        """SIGSTOP the interpreter between runs: no thread a run left behind (a sleeper that
        wakes up later, say) computes outside the wall clock. The next run SIGCONTs it."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False

    def _signal(self, sig: int) -> None:
        try:
            signal.pidfd_send_signal(self.pidfd, sig)
        except OSError:
            pass

    def kill_strays(self) -> None:
        """Kill every process of the session but its interpreter (pid 1): nothing a run
        started keeps running after it. The runner does the same; this does not trust it.
        The session's processes are its cgroup's or, without one, the interpreter's
        descendants (orphans in its pid namespace are reparented to it)."""
        members = self.cgroup.pids_list if self.cgroup.present else None
        listing = members or self._descendants
        for _ in range(20):
            pids = [p for p in listing() if p != self.pid]
            if not pids:
                return
            for pid in pids:
                try:
                    fd = os.pidfd_open(pid)
                except OSError:
                    continue
                try:  # still ours (not a reused pid)? then kill through the pidfd
                    if pid in listing():
                        signal.pidfd_send_signal(fd, signal.SIGKILL)
                except OSError:
                    pass
                finally:
                    os.close(fd)

    def _descendants(self) -> list[int]:
        if self.level == "none":
            return []  # no pid namespace: the children of the interpreter only would be partial
        found: list[int] = []
        todo = [self.pid]
        while todo and len(found) < 10_000:
            pid = todo.pop()
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        kids = [int(k) for k in f.read().split()]
                except (OSError, ValueError):
                    continue
                found.extend(kids)
                todo.extend(kids)
        return found

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) of the interpreter, from the host's /proc."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def threads_blocked(self) -> bool:
        """Is every thread of the interpreter blocked (none running or runnable)? After a
        genuine reply the runner waits on the control socket; a reply forged by user code
        that keeps computing fails this. True when the kernel does not tell."""
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return True
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split(None, 1)[0]
            except (OSError, IndexError):
                continue
            if state == "R":
                return False
        return True

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


class Reaper:
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


reaper = Reaper()
atexit.register(reaper.drain)


def wait_closed() -> None:
    """Block until all closed sandboxes are fully cleaned up (processes reaped, dirs removed)."""
    reaper.drain()
