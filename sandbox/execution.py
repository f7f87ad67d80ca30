"""One run on the host: send the code, pump capped stdout/stderr, enforce the wall clock, and
turn the session's (untrusted) reply into an ExecutionResult."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import time
from typing import Any

from sandbox.limits import Limits
from sandbox.output import CappedBuffer
from sandbox.process import SessionProcess
from sandbox.protocol import JSON, FrameReader, send_msg
from sandbox.result import ErrorInfo, ExecutionResult, Figure, FileInfo, Verdict

_FLOOD_FACTOR = 16  # output beyond this many times the cap kills the run


_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_ERROR_CHARS = 65536
_VERDICTS = ("ok", "runtime_error", "timeout", "memory_limit", "import_blocked", "internal_error")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clip(value: Any, limit: int = MAX_ERROR_CHARS) -> str:
    """Untrusted text from the session: capped, and with lone surrogates (an exception's text
    may hold "\\ud800") replaced by U+FFFD, so it always encodes as UTF-8."""
    text = value if isinstance(value, str) else str(value)
    text = _SURROGATE.sub("\ufffd", text)
    if len(text) > limit:
        text = text[:limit] + f"\n[truncated: {len(text) - limit} characters dropped]"
    return text


def _error_info(error: Any) -> ErrorInfo | None:
    if not isinstance(error, dict):
        return None
    return ErrorInfo(
        name=_clip(error.get("name", "Error"), 200),
        message=_clip(error.get("message", "")),
        traceback=_clip(error.get("traceback", "")),
    )


def build_result(
    raw: dict[str, Any], changed: list[FileInfo], start: float, limits: Limits
) -> ExecutionResult:
    verdict: Verdict = raw["verdict"]
    figures = [Figure(data=d) for d in raw.get("figures", [])]
    dropped = raw.get("dropped_figures", 0)
    stderr = raw["stderr"]
    if dropped:
        stderr += f"\n[{dropped} figure(s) dropped by the figure limits]"
    return ExecutionResult.make(
        verdict,
        stdout=raw["stdout"],
        stderr=stderr,
        error=_error_info(raw.get("error")),
        figures=figures,
        files=changed,
        duration_s=round(time.monotonic() - start, 6),
    )


class Run:
    """One run: send the code, pump stdout/stderr with caps, enforce the wall clock."""

    def __init__(self, proc: SessionProcess, limits: Limits, timeout: float) -> None:
        self.proc = proc
        self.limits = limits
        self.timeout = timeout
        self.out = CappedBuffer(limits.max_output_bytes)
        self.err = CappedBuffer(limits.max_output_bytes)
        max_json = 4 * MAX_ERROR_CHARS * 6 + (1 << 20)  # JSON may escape a character 6x
        self.reader = FrameReader(max_json, limits.max_figure_bytes)
        self.pngs: list[bytes] = []
        self.png_bytes = 0
        self.dropped_figures = 0

    def execute(self, code: str) -> dict[str, Any]:
        proc = self.proc
        proc.resume()
        deadline = time.monotonic() + self.timeout
        try:
            proc.ctl.settimeout(self.timeout)  # a session that does not read is timed out too
            send_msg(proc.ctl, {"op": "run", "code": code})
        except TimeoutError:
            return self._killed("timeout")
        except OSError:
            return self._died()
        proc.ctl.setblocking(False)
        flood = self.limits.max_output_bytes * _FLOOD_FACTOR
        streams = {proc.out: self.out, proc.err: self.err}
        ctl = proc.ctl.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self._killed("timeout")
            ready, _, _ = select.select([ctl, *streams], [], [], left)
            for fd in ready:
                if fd == ctl:
                    try:
                        chunk = proc.ctl.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk:
                        return self._died()
                    try:
                        reply = self._frames(chunk)
                    except (ValueError, RecursionError):  # a malformed or hostile reply
                        return self._killed("internal_error")
                    if reply is not None:
                        proc.ctl.setblocking(True)
                        proc.kill_strays()
                        if not self._quiesce(deadline, streams):
                            return self._killed("timeout")
                        return self._finish(reply)
                else:
                    data = self._read(fd)
                    if data is None:
                        streams.pop(fd)
                        break
                    streams[fd].feed(data)
                    if self.out.dropped + self.err.dropped > flood:
                        return self._killed("output_limit")

    def _quiesce(self, deadline: float, streams: dict[int, CappedBuffer]) -> bool:
        """Wait until the interpreter is really idle after its reply (every thread blocked),
        draining output meanwhile; False if the wall clock runs out first."""
        pause = 0.0002
        while not self.proc.threads_blocked():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select(list(streams), [], [], min(pause, left))
            for fd in ready:
                chunk = self._read(fd)
                if chunk is None:
                    streams.pop(fd)
                else:
                    streams[fd].feed(chunk)
            pause = min(pause * 2, 0.01)
        return True

    def _frames(self, chunk: bytes) -> Any | None:
        """Collect figure frames (within the limits); the JSON frame ends the reply."""
        for kind, payload in self.reader.feed(chunk):
            if kind == JSON:
                return json.loads(payload)
            fits = self.png_bytes + len(payload) <= self.limits.max_figures_total_bytes
            if len(self.pngs) < self.limits.max_figures and fits and payload.startswith(_PNG_MAGIC):
                self.pngs.append(payload)
                self.png_bytes += len(payload)
            else:
                self.dropped_figures += 1
        return None

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
        self.proc.pause()
        self.proc.idle_cpu_s = self.proc.cpu_seconds()
        if not isinstance(reply, dict):
            reply = {}
        verdict = reply.get("verdict")
        if verdict not in _VERDICTS:
            verdict = "internal_error"
        if verdict == "ok" and (self.out.truncated or self.err.truncated):
            verdict = "output_limit"
        return {
            "verdict": verdict,
            "error": reply.get("error"),
            "figures": [base64.b64encode(p).decode("ascii") for p in self.pngs],
            "dropped_figures": self.dropped_figures,
            **self._outputs(),
        }

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
