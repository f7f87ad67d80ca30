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

# Attack code gets `os` the way an attacker would if a plain import is blocked.
GET_OS = """
try:
    import os
except ImportError:
    try:
        import random
        os = random._os
    except Exception:
        import matplotlib
        os = matplotlib.os
"""


def tag_code(token: str) -> str:
    """Code that names the process `token` (inherited by fork/threads) so the host can find it."""
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


@pytest.fixture
def make_sandbox(sandbox_mod: Any, token: str) -> Iterator[Callable[..., Any]]:
    """Factory: make_sandbox(**limit_overrides) -> an open Sandbox. At teardown every sandbox is
    closed, then no process tagged with the test's token may be left on the host."""
    opened: list[Any] = []

    def make(**overrides: Any) -> Any:
        limits = sandbox_mod.Limits(**{"timeout_s": 3.0, **overrides})
        sb = sandbox_mod.Sandbox(limits=limits)
        opened.append(sb)
        return sb.__enter__()

    yield make
    for sb in opened:
        sb.close()
    left = wait_gone(token)
    assert not left, f"processes tagged {token} left running after close(): {left}"


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
    vm_hwm_kb = staticmethod(vm_hwm_kb)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
