"""Nothing carries over from one session to the next (pooled sessions included), and the
supervisor does not leak fds, threads, cgroups or workspaces as sessions come and go."""

from __future__ import annotations

import glob
import os
import threading
import time
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(90)

PLANT = """
import builtins, statistics, sys
import numpy as np
import matplotlib
np.codexec_mark = {s!r}
statistics.mean = lambda *a, **k: {s!r}
builtins.codexec_mark = {s!r}
sys.modules['codexec_mark'] = type(sys)('codexec_mark')
matplotlib.rcParams['axes.titlesize'] = 31
os.environ['CODEXEC_MARK'] = {s!r}
open('/tmp/codexec_mark.txt', 'w').write({s!r})
open('/dev/shm/codexec_mark.txt', 'w').write({s!r})
open('mark.txt', 'w').write({s!r})
"""

LOOK = """
import builtins, statistics, sys, glob
import numpy as np
import matplotlib
found = {
    'numpy': getattr(np, 'codexec_mark', None),
    'statistics': statistics.mean([1, 2]),
    'builtins': getattr(builtins, 'codexec_mark', None),
    'sys.modules': 'codexec_mark' in sys.modules,
    'rcParams': matplotlib.rcParams['axes.titlesize'],
    'environ': os.environ.get('CODEXEC_MARK'),
    'files': sorted(glob.glob('/tmp/*') + glob.glob('/dev/shm/*') + glob.glob('*')),
}
"""


def test_no_state_leaks_between_sessions(
    make_sandbox: Any, kit: Any, token: str, secret: str
) -> None:
    a = make_sandbox()
    r = a.run(kit.tag_code(token) + PLANT.format(s=secret))
    assert r.verdict == "ok", (r.verdict, r.error)
    a.close()
    for _ in range(3):  # enough to go through a pool of pre-forked sessions
        b = make_sandbox()
        r = b.run(kit.tag_code(token) + LOOK + kit.report_code("found"))
        assert r.verdict == "ok", (r.verdict, r.error)
        found = kit.parse_report(r.stdout)
        assert secret not in kit.result_text(r), found
        assert found["statistics"] == 1.5 and found["sys.modules"] is False, found
        assert found["rcParams"] != 31, found


def test_no_state_leaks_after_a_restart(
    make_sandbox: Any, kit: Any, token: str, secret: str
) -> None:
    """After a timeout the session restarts: the patched modules must be clean again."""
    sb = make_sandbox(timeout_s=2)
    r = sb.run(kit.tag_code(token) + PLANT.format(s=secret) + "while True:\n    pass\n")
    assert r.verdict == "timeout", (r.verdict, r.error)
    r = sb.run(kit.tag_code(token) + LOOK + kit.report_code("found"))
    found = kit.parse_report(r.stdout)
    assert found["statistics"] == 1.5 and found["numpy"] is None and found["builtins"] is None
    assert found["environ"] is None and found["rcParams"] != 31
    # workspace files are kept on purpose; /tmp is the session's own
    assert "mark.txt" in found["files"]


def _our_zygotes() -> list[tuple[int, list[str]]]:
    """(pid, argv) of the zygotes this test process started (other processes on the machine
    run their own sandboxes, with their own cgroups and workspaces)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and "sandbox.jail.zygote" in argv:
            found.append((int(name), argv))
    return found


def _supervisor_counts() -> dict[str, int]:
    cgroups = tmp_ws = 0
    for zpid, argv in _our_zygotes():
        cgroups += len(glob.glob(f"/sys/fs/cgroup/*/**/codexec-{zpid}-*", recursive=True))
        if "--workspaces" in argv:
            tmp_ws += len(glob.glob(os.path.join(argv[argv.index("--workspaces") + 1], "*")))
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threading.active_count(),
        "zygotes": len(_our_zygotes()),
        "cgroups": cgroups,
        "tmp_ws": tmp_ws,
    }


def test_supervisor_does_not_leak(sandbox_mod: Any) -> None:
    limits = sandbox_mod.Limits(timeout_s=3)
    with sandbox_mod.Sandbox(limits=limits) as sb:  # the zygote and any pool are up
        sb.run("print(1)")
    time.sleep(0.5)
    before = _supervisor_counts()
    for i in range(12):
        with sandbox_mod.Sandbox(limits=limits) as sb:
            sb.run("print(1)" if i % 3 else "while True:\n    pass", timeout_s=0.5)
            sb.put_file("x.txt", b"x")
    deadline = time.monotonic() + 10
    while True:
        after = _supervisor_counts()
        grown = {k: (before[k], after[k]) for k in before if after[k] > before[k] + 4}
        if not grown or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not grown, f"the supervisor leaks (before, after 12 sessions): {grown}"
