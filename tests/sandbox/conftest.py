"""Shared fixtures for the sandbox tests: sandboxes with small limits, unique tokens and secrets,
process accounting on the host (by a `comm` tag the attack code sets, or by uid)."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

RESULT_MARK = "@@ATTACK@@"

# Attack code gets `os` and `signal` the way an attacker would if a plain import is blocked.
GET_OS = """
import sys
try:
    import os
except ImportError:
    os = sys.modules['os']
try:
    import signal
except ImportError:
    signal = sys.modules['signal']
"""


def tag_code(token: str) -> str:
    """Prelude of every attack: get `os`/`signal`; try to name the process `token` (inherited by
    fork and threads) so the host can find it. Processes are tracked by uid too (see Procs)."""
    return (
        GET_OS
        + f"""
try:
    with open('/proc/self/comm', 'w') as _f:
        _f.write({token!r})
except OSError:
    pass
"""
    )


def report_code(var: str = "report") -> str:
    """Code that prints `var` as one JSON line the test can parse with `parse_report`."""
    return f"\nimport json as _json\nprint({RESULT_MARK!r} + _json.dumps({var}, default=str))\n"


def parse_report(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    raise AssertionError(f"attack code printed no report; stdout was: {stdout[-2000:]!r}")


def result_text(result: Any) -> str:
    """Everything a result carries, as one string (to search for leaked secrets)."""
    try:
        return json.dumps(result.to_dict(), default=str)
    except AttributeError:
        return repr(result)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def procs_with_comm(token: str) -> list[int]:
    """Host pids whose command name is `token` (comm is at most 15 bytes)."""
    name = token[:15]
    return [pid for pid in all_pids() if _read(f"/proc/{pid}/comm").strip() == name]


def proc_uid(pid: int) -> int | None:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def proc_status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def procs_by_uid(uid: int) -> list[int]:
    """Host pids whose real uid is `uid`."""
    return [pid for pid in all_pids() if proc_uid(pid) == uid]


def wait_gone(token: str, timeout_s: float = 5.0) -> list[int]:
    """Wait until no process is tagged `token`; return those still alive after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for pid in procs_with_comm(token) if not _is_zombie(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    return proc_status(pid).get("State", "").startswith("Z")


def vm_hwm_kb() -> int:
    """Peak resident memory of this (supervisor) process, in KiB."""
    return int(proc_status(os.getpid()).get("VmHWM", "0 kB").split()[0])


@pytest.fixture
def token() -> str:
    """A unique process tag / marker name (fits in comm's 15 bytes)."""
    return "atk" + secrets.token_hex(5)


@pytest.fixture
def secret() -> str:
    """A unique secret that must never come back from the sandbox."""
    return "sk-test-secret-" + secrets.token_hex(12)


def _import_sandbox() -> Any:
    try:
        import sandbox
        from sandbox import Limits, Sandbox  # noqa: F401
    except Exception as exc:  # the runtime is built by another helper; skip until it imports
        pytest.skip(f"sandbox runtime not importable yet: {exc!r}")
    return sandbox


@pytest.fixture
def sandbox_mod() -> Any:
    return _import_sandbox()


def ns_pid(pid: int) -> int | None:
    """The pid of `pid` inside its innermost pid namespace."""
    nspid = proc_status(pid).get("NSpid", "").split()
    return int(nspid[-1]) if nspid else None


class Procs:
    """Host processes of the sandboxes a test opened, found by their (per-session) host uid."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.uids: set[int] = set()

    def add_uid(self, uid: int) -> None:
        if uid not in (0, os.getuid()):  # a shared uid would count unrelated processes
            self.uids.add(uid)

    def alive(self) -> list[int]:
        """Live processes of our sandboxes (uid) or tagged with the token (comm)."""
        tagged = set(procs_with_comm(self.token))
        pids = [p for p in all_pids() if proc_uid(p) in self.uids or p in tagged]
        return [p for p in pids if not _is_zombie(p)]

    def spawned(self) -> list[int]:
        """Live processes the user code started: not a session interpreter (pid 1 of its own
        pid namespace, which a Sandbox may keep or restart)."""
        return [p for p in self.alive() if ns_pid(p) != 1]

    def wait(self, which: Callable[[], list[int]], timeout_s: float = 5.0) -> list[int]:
        deadline = time.monotonic() + timeout_s
        while True:
            left = which()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def wait_spawned_gone(self, timeout_s: float = 5.0) -> list[int]:
        return self.wait(self.spawned, timeout_s)

    def wait_all_gone(self, timeout_s: float = 5.0) -> list[int]:
        return self.wait(self.alive, timeout_s)


@pytest.fixture
def procs(token: str) -> Procs:
    return Procs(token)


UID_PROBE = "import os\nprint('@@uid', os.getuid())"


def _probe_uid(sb: Any) -> int | None:
    for _ in range(3):
        r = sb.run(UID_PROBE)
        for line in r.stdout.splitlines():
            if line.startswith("@@uid "):
                return int(line.split()[1])
    return None


@pytest.fixture
def make_sandbox(sandbox_mod: Any, procs: Procs) -> Iterator[Callable[..., Any]]:
    """Factory: make_sandbox(**limit_overrides) -> an open Sandbox whose host uid is tracked.
    At teardown every sandbox is closed, then none of their processes may be left on the host."""
    opened: list[Any] = []

    def make(**overrides: Any) -> Any:
        limits = sandbox_mod.Limits(**{"timeout_s": 3.0, **overrides})
        sb = sandbox_mod.Sandbox(limits=limits)
        opened.append(sb)
        sb = sb.__enter__()
        uid = _probe_uid(sb)
        if uid is not None:
            procs.add_uid(uid)
        return sb

    yield make
    for sb in opened:
        sb.close()
    left = procs.wait_all_gone()
    assert not left, f"sandbox processes left running after close(): {left}"


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Any]) -> Any:
    """A fresh session with a 3 s wall clock per run."""
    return make_sandbox()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


class Kit:
    """The helpers above, handed to test modules as the `kit` fixture (with --import-mode=importlib
    test modules cannot import conftest by name)."""

    GET_OS = GET_OS
    tag_code = staticmethod(tag_code)
    report_code = staticmethod(report_code)
    parse_report = staticmethod(parse_report)
    result_text = staticmethod(result_text)
    all_pids = staticmethod(all_pids)
    procs_with_comm = staticmethod(procs_with_comm)
    proc_uid = staticmethod(proc_uid)
    proc_status = staticmethod(proc_status)
    procs_by_uid = staticmethod(procs_by_uid)
    wait_gone = staticmethod(wait_gone)
    ns_pid = staticmethod(ns_pid)
    vm_hwm_kb = staticmethod(vm_hwm_kb)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
