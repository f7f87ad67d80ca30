"""Many sessions at once, a dead zygote, oversized code, cleanup."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sandbox import Sandbox, SandboxError
from sandbox.client import get_client
from sandbox.session import wait_closed


def test_concurrent_sandboxes_in_threads() -> None:
    def work(i: int) -> tuple[str, str]:
        with Sandbox() as sb:
            sb.run(f"n = {i}")
            r = sb.run("import numpy as np\nprint(int(np.arange(n + 1).sum()))")
            return r.verdict, r.stdout

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(8)))
    assert results == [("ok", f"{i * (i + 1) // 2}\n") for i in range(8)]


def test_one_sandbox_used_from_two_threads_is_serialized() -> None:
    with Sandbox() as sb, ThreadPoolExecutor(max_workers=2) as pool:
        sb.run("total = 0")
        code = "for _ in range(1000):\n    total += 1\nprint('done')"
        results = list(pool.map(lambda _: sb.run(code), range(4)))
        assert [r.stdout for r in results] == ["done\n"] * 4
        assert sb.run("print(total)").stdout == "4000\n"


def test_close_frees_processes_and_cgroups() -> None:
    sb = Sandbox()
    sb.run("print(1)")
    proc = sb._state.proc
    assert proc is not None
    pid, cgroup = proc.pid, proc.cgroup.pids
    sb.close()
    wait_closed()
    assert not os.path.exists(f"/proc/{pid}/status") or "Z" in open(f"/proc/{pid}/stat").read()
    if cgroup:
        assert not os.path.exists(cgroup)


def test_code_too_large_is_refused() -> None:
    with Sandbox() as sb, pytest.raises(SandboxError, match="limit"):
        sb.run("x = 1\n" * 2_000_000)


def test_a_dead_zygote_is_replaced() -> None:
    sb = Sandbox()
    sb.run("x = 1")
    os.kill(get_client().pid, signal.SIGKILL)
    time.sleep(0.5)
    r = sb.run("print('x' in globals())")
    assert (r.verdict, r.stdout) == ("ok", "False\n")
    sb.close()
    with Sandbox() as other:
        assert other.run("print(3)").stdout == "3\n"
