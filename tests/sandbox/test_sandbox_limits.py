"""Limits: wall clock (whole process tree), CPU, memory, output; state after a kill."""

from __future__ import annotations

import os
import time

from sandbox import Limits, Sandbox


def _uid_processes(uid: int) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
        except OSError:
            continue
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        zombie = "State:\tZ" in status
        if int(uid_line.split()[1]) == uid and not zombie:
            found.append(int(pid))
    return found


DAEMON = """
import os, sys, time
signal = sys.modules['signal']
if os.fork() == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if os.fork() == 0:
        time.sleep(1.5)
        open('marker.txt', 'w').write('still alive')
    os._exit(0)
x = 0
while True:
    x += 1
"""


def test_timeout_kills_the_whole_tree_and_resets_state() -> None:
    with Sandbox(limits=Limits(timeout_s=0.5)) as sb:
        uid = sb._state.uid
        sb.run("kept = 1")
        r = sb.run(DAEMON)
        assert (r.verdict, r.outcome) == ("timeout", "OUTCOME_DEADLINE_EXCEEDED")
        assert r.error is not None and "time limit" in r.error.message
        if os.geteuid() == 0:
            assert _uid_processes(uid) == []
        time.sleep(2.0)
        assert "marker.txt" not in {f.name for f in sb.list_files()}
        r = sb.run("print('kept' in globals())")
        assert (r.verdict, r.stdout) == ("ok", "False\n")


def test_timeout_per_run_overrides_the_default() -> None:
    with Sandbox(limits=Limits(timeout_s=30)) as sb:
        r = sb.run("import time\ntime.sleep(10)", timeout_s=0.3)
        assert r.verdict == "timeout"
        assert sb.run("print(1)").stdout == "1\n"


def test_background_processes_do_not_outlive_a_run() -> None:
    with Sandbox() as sb:
        code = "import os, time\nif os.fork() == 0:\n    time.sleep(1)\n    open('late.txt', 'w')\n    os._exit(0)\nprint('parent done')"
        assert sb.run(code).stdout == "parent done\n"
        time.sleep(1.5)
        assert "late.txt" not in {f.name for f in sb.list_files()}


def test_cpu_limit_is_a_timeout() -> None:
    with Sandbox(limits=Limits(cpu_s=1, timeout_s=30)) as sb:
        r = sb.run("while True:\n    pass")
        assert (r.verdict, r.outcome) == ("timeout", "OUTCOME_DEADLINE_EXCEEDED")
        assert r.error is not None and "CPU" in r.error.message
        assert sb.run("print(2)").stdout == "2\n"


def test_memory_limit() -> None:
    with Sandbox(limits=Limits(memory_mb=200, timeout_s=30)) as sb:
        r = sb.run("a = bytearray(600 * 1024 * 1024)\nprint('allocated')")
        assert (r.verdict, r.outcome) == ("memory_limit", "OUTCOME_FAILED")
        assert "allocated" not in r.stdout
        assert sb.run("print('recovered')").stdout == "recovered\n"


def test_output_is_truncated_with_a_marker() -> None:
    with Sandbox(limits=Limits(max_output_bytes=10_000)) as sb:
        r = sb.run("print('x' * 50_000)\ny = 5")
        assert r.verdict == "output_limit" and r.outcome == "OUTCOME_FAILED"
        assert r.stdout.startswith("x" * 10_000)
        assert r.stdout.endswith("[output truncated: 40001 bytes dropped]")
        assert sb.run("print(y)").stdout == "5\n"  # the session survived


def test_output_flood_is_stopped() -> None:
    with Sandbox(limits=Limits(max_output_bytes=10_000, timeout_s=30)) as sb:
        r = sb.run("while True:\n    print('y' * 1000)")
        assert r.verdict == "output_limit"
        assert len(r.stdout) < 10_100
