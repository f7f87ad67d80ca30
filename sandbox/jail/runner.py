"""The session interpreter's loop (runs in the sandboxed pid-1 process, after isolation)."""

from __future__ import annotations

import ast
import builtins
import io
import json
import linecache
import os
import resource
import signal
import socket
import sys
import traceback
from types import TracebackType
from typing import Any

from sandbox.jail.allowlist import BlockedImportError
from sandbox.jail.figures import FigureCapture
from sandbox.protocol import recv_msg, send_figure, send_msg

CODE_FILENAME = "<code>"
_SANDBOX_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # sandbox/
MAX_ERROR_CHARS = 65536
_SAVED_OUT, _SAVED_ERR = 1021, 1022  # dups of the capture pipes (restored before each run)


def clip(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[truncated: {len(text) - limit} characters dropped]"


def split_last_expression(code: str) -> tuple[ast.Module, ast.Expression | None]:
    """Like a notebook cell: a bare expression on the last line has its value shown, so
    `len(text)` as the last line prints the count (a trailing `;` keeps it quiet)."""
    tree = ast.parse(code, CODE_FILENAME)
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr) or code.rstrip().endswith(";"):
        return tree, None
    tree.body.pop()
    return tree, ast.Expression(last.value)


_WARM_UP = """
import math
print('', end='')
x = [math.sqrt(i) for i in range(100)]
try:
    {}['k']
except KeyError as e:
    str(e)
raise ValueError('warm-up')
"""


class CPUTimeExceeded(BaseException):
    """Raised by the SIGXCPU handler: the run used up its CPU time."""


def _on_sigxcpu(signum: int, frame: Any) -> None:
    raise CPUTimeExceeded("CPU time limit exceeded")


def _user_traceback(exc: BaseException) -> str:
    """The traceback from the first frame of user code on: sandbox frames are dropped, and so
    are chained exceptions raised entirely inside libraries (noise for the reader)."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != CODE_FILENAME:
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and tb is None:
        return "".join(traceback.format_exception_only(type(exc), exc))
    te = traceback.TracebackException(type(exc), exc, tb, compact=True)
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if not f.filename.startswith(_SANDBOX_DIR)]
    )
    seen: set[int] = set()
    node: traceback.TracebackException | None = te
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        for attr in ("__cause__", "__context__"):
            chained = getattr(node, attr)
            if chained is not None and not any(f.filename == CODE_FILENAME for f in chained.stack):
                setattr(node, attr, None)
        node = node.__cause__ or node.__context__
    return "".join(te.format())


def _error(exc: BaseException) -> dict[str, str]:
    name = type(exc).__name__
    if isinstance(exc, BlockedImportError):
        name = "ImportError"
    message = str(exc)
    if isinstance(exc, SyntaxError):
        message = exc.msg or message
        if exc.lineno:
            message += f" (line {exc.lineno})"
    return {
        "name": clip(name, 200),
        "message": clip(message),
        "traceback": clip(_user_traceback(exc)),
    }


def refuse(ctl: socket.socket, message: str) -> None:
    """The session could not be set up safely: answer the first run with internal_error."""
    try:
        if recv_msg(ctl) is not None:
            error = {"name": "SandboxError", "message": message, "traceback": ""}
            send_msg(ctl, {"verdict": "internal_error", "error": error})
    finally:
        os._exit(70)


class Runner:
    """Built before the session is claimed (so claiming is cheap); `attach` completes it."""

    def __init__(self) -> None:
        self.ctl: socket.socket | None = None
        self.limits: dict[str, Any] = {}
        self.own_pid_ns = False
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.figures = FigureCapture(20, 5_000_000)
        self.figures.install()
        sys.stdin = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        self._out = sys.stdout = self._stream(1)
        self._err = sys.stderr = self._stream(2)
        signal.signal(signal.SIGXCPU, _on_sigxcpu)

    def attach(self, ctl: socket.socket, limits: dict[str, Any], *, own_pid_ns: bool) -> None:
        self.ctl = ctl
        self.limits = limits
        self.own_pid_ns = own_pid_ns
        os.dup2(1, _SAVED_OUT, inheritable=False)
        os.dup2(2, _SAVED_ERR, inheritable=False)
        self.figures.max_figures = limits["max_figures"]
        self.figures.max_bytes = limits["max_figure_bytes"]

    @staticmethod
    def _stream(fd: int) -> io.TextIOWrapper:
        raw = open(fd, "wb", buffering=0, closefd=False)
        return io.TextIOWrapper(
            io.BufferedWriter(raw, 65536),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )

    def _set_cpu_limit(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        used = usage.ru_utime + usage.ru_stime
        soft = int(used + self.limits["cpu_s"]) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard == resource.RLIM_INFINITY or soft + 2 <= hard:
            try:
                resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))
            except (ValueError, OSError):
                pass

    def _restore_stdio(self) -> None:
        """Undo what the previous run did to fds 1/2 and sys.stdout/sys.stderr."""
        for saved, fd in ((_SAVED_OUT, 1), (_SAVED_ERR, 2)):
            try:
                os.dup2(saved, fd)
            except OSError:
                pass
        if self._out.closed:
            self._out = self._stream(1)
        if self._err.closed:
            self._err = self._stream(2)
        sys.stdout, sys.stderr = self._out, self._err

    def _kill_strays(self) -> None:
        """Kill every other process of the session (we are pid 1 of its namespace) and reap."""
        if not self.own_pid_ns:
            return
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def run(self, code: str) -> dict[str, Any]:
        self._restore_stdio()
        self.figures.reset()
        verdict = "ok"
        error = None
        try:
            self._set_cpu_limit()
            linecache.cache[CODE_FILENAME] = (len(code), None, code.splitlines(True), CODE_FILENAME)
            body, last = split_last_expression(code)
            exec(compile(body, CODE_FILENAME, "exec", dont_inherit=True), self.namespace)
            if last is not None:
                value = eval(
                    compile(last, CODE_FILENAME, "eval", dont_inherit=True), self.namespace
                )
                if value is not None:
                    print(repr(value))
        except SystemExit as e:
            if e.code not in (None, 0):
                verdict, error = "runtime_error", _error(e)
        except CPUTimeExceeded as e:
            verdict, error = "timeout", _error(e)
        except MemoryError as e:
            verdict, error = "memory_limit", _error(e)
        except BlockedImportError as e:
            verdict, error = "import_blocked", _error(e)
        except BaseException as e:
            verdict, error = "runtime_error", _error(e)
        figures: list[bytes] = []
        try:
            figures = self.figures.finish()
        except BaseException as e:  # noqa: BLE001 - a broken figure must not lose the result
            print(f"[figure capture failed: {type(e).__name__}: {e}]", file=sys.stderr)
        for stream in (sys.stdout, sys.stderr, self._out, self._err):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        self._kill_strays()
        return {"verdict": verdict, "error": error, "png": figures}

    def warm_up(self) -> None:
        """Run a representative snippet before the session is claimed: the pages a run touches
        get copied from the zygote now, in the background, not during the first real run."""
        saved = self.namespace
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.limits = {"cpu_s": 60}
        try:
            reply = self.run(_WARM_UP)
            json.dumps(reply, default=str)
        finally:
            self.namespace = saved
            self.limits = {}
            linecache.cache.pop(CODE_FILENAME, None)

    def loop(self) -> None:
        assert self.ctl is not None
        while True:
            try:
                req = recv_msg(self.ctl)
            except (OSError, ValueError):
                req = None
            if req is None or req.get("op") != "run":
                os._exit(0)
            try:
                reply = self.run(req["code"])
            except BaseException as e:  # noqa: BLE001
                reply = {"verdict": "internal_error", "error": _error(e), "png": []}
            try:
                for png in reply.pop("png"):
                    send_figure(self.ctl, png)
                send_msg(self.ctl, reply)
            except OSError:
                os._exit(0)
