"""Attacks on the supervisor itself: work that outlives its run, forged replies on the control
socket, hostile exceptions, and workspace contents the host must list and serialize."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(90)

# The attacker reads the runner's source (it is importable inside) and replies with the
# runner's own protocol module and socket object, found on the call stack; raw fd writes of
# the old length-prefixed JSON format are the fallback.
FIND_CTL = """
import json, struct
proto = sys.modules.get('sandbox.protocol')
ctl_sock = None
_f = sys._getframe()
while _f is not None:
    _s = _f.f_locals.get('self')
    if _s is not None and getattr(_s, 'ctl', None) is not None:
        ctl_sock = _s.ctl
    _f = _f.f_back
ctl = ctl_sock.fileno() if ctl_sock is not None else None
if ctl is None:
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'):
                ctl = int(fd)
        except OSError:
            pass
def forge(obj, pngs=()):
    if proto is not None and ctl_sock is not None:
        for png in pngs:
            proto.send_figure(ctl_sock, png)
        proto.send_msg(ctl_sock, obj)
        return
    data = json.dumps(obj).encode()
    view = memoryview(struct.pack('!I', len(data)) + data)
    while view:
        view = view[os.write(ctl, view):]
def wait_like_the_runner():
    while True:
        if proto is not None and ctl_sock is not None:
            proto.recv_msg(ctl_sock)
        else:
            os.read(ctl, 1 << 16)
"""


def _stat(pid: int) -> tuple[str, int]:
    """(state, utime + stime in ticks) of a process; ("", 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return "", 0
    return fields[0], int(fields[11]) + int(fields[12])


def _busy_after(procs: Any, seconds: float = 1.5) -> dict[int, str]:
    """Sandbox processes that run while no run is active: seen runnable in several samples or
    burning >= 0.1 s of CPU during `seconds` (an idle interpreter sleeps in recv)."""
    pids = procs.alive()
    hz = os.sysconf("SC_CLK_TCK")
    before = {p: _stat(p)[1] for p in pids}
    running = dict.fromkeys(pids, 0)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in pids:
            if _stat(p)[0] == "R":
                running[p] += 1
        time.sleep(0.05)
    busy = {}
    for p in pids:
        cpu = (_stat(p)[1] - before[p]) / hz
        if cpu >= 0.1 or running[p] >= 3:
            busy[p] = f"cpu {cpu:.2f}s, runnable in {running[p]} samples"
    return busy


def _recovers(sb: Any) -> None:
    """The session works again at the latest on the second run: user code that hijacked the
    control socket may swallow one request (its own session then times out and restarts)."""
    r = sb.run("print(6 * 7)", timeout_s=2)
    if r.verdict == "timeout":
        r = sb.run("print(6 * 7)")
    assert r.verdict == "ok" and r.stdout.strip() == "42", (r.verdict, r.stdout, r.error)


def test_background_process_outliving_a_normal_run(
    make_sandbox: Any, kit: Any, token: str, procs: Any
) -> None:
    """A run that forks a spinning child and returns at once: nothing may keep running (or
    burning CPU) once the run is over."""
    sb = make_sandbox(timeout_s=5)
    code = kit.tag_code(token) + (
        "if os.fork() == 0:\n    os.setsid()\n    while True:\n        pass\nprint('returned')\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok" and "returned" in r.stdout, (r.verdict, r.error)
    left = procs.wait_spawned_gone(timeout_s=2.0)
    assert not left, f"user processes still running after the run ended: {left}"
    assert not _busy_after(procs), "a sandbox process burns CPU between runs"


def test_background_thread_outliving_a_normal_run(
    make_sandbox: Any, kit: Any, token: str, procs: Any
) -> None:
    """No forging needed: a genuine run starts a thread that naps, then computes forever."""
    sb = make_sandbox(timeout_s=5)
    code = kit.tag_code(token) + (
        "import threading, time\n"
        "def work():\n    time.sleep(0.3)\n    while True:\n        pass\n"
        "threading.Thread(target=work, daemon=True).start()\n"
        "print('returned')\n"
    )
    r = sb.run(code)
    assert r.verdict in ("ok", "timeout"), (r.verdict, r.error)
    busy = _busy_after(procs)
    assert r.verdict == "timeout" or not busy, f"a thread keeps computing between runs: {busy}"


def test_forged_early_reply_escapes_the_wall_clock(
    make_sandbox: Any, kit: Any, token: str, procs: Any
) -> None:
    """The code answers the host itself ("ok") and keeps spinning: the host must not treat the
    run as over while the code still runs unlimited by the wall clock."""
    sb = make_sandbox(timeout_s=3)
    code = (
        kit.tag_code(token)
        + FIND_CTL
        + "forge({'verdict': 'ok', 'error': None, 'figures': []})\n"
        + "while True:\n    pass\n"
    )
    r = sb.run(code)
    busy = _busy_after(procs)
    assert r.verdict == "timeout" or not busy, (
        f"run returned {r.verdict!r} after {r.duration_s:.2f}s but the code keeps running: {busy}"
    )
    # and the session is in sync afterwards
    r2 = sb.run("print(6 * 7)")
    assert r2.verdict == "ok" and r2.stdout.strip() == "42", (r2.verdict, r2.stdout, r2.error)


SPINNERS = {
    "spin": "while True:\n        pass",
    # asleep while the host looks, then spinning
    "delayed-spin": "time.sleep(0.5)\n    while True:\n        pass",
    # runs 90% of the time, sleeps in short naps the host can catch
    "duty-cycle": (
        "while True:\n        t = time.monotonic()\n"
        "        while time.monotonic() - t < 0.01:\n            pass\n"
        "        time.sleep(0.001)"
    ),
    # a child process: stopping the interpreter alone does not stop it
    "child-process": "if os.fork() == 0:\n        while True:\n            pass",
}


@pytest.mark.parametrize("spinner", list(SPINNERS), ids=list(SPINNERS))
def test_forged_reply_then_spinning_thread_while_main_thread_waits(
    make_sandbox: Any, kit: Any, token: str, procs: Any, spinner: str
) -> None:
    """As above, but the main thread then blocks reading the control socket (looking exactly
    like the idle runner) while a second thread computes."""
    sb = make_sandbox(timeout_s=3)
    code = (
        kit.tag_code(token)
        + FIND_CTL
        + "import threading, time\n"
        + f"def spin():\n    {SPINNERS[spinner]}\n"
        + "threading.Thread(target=spin, daemon=True).start()\n"
        + "forge({'verdict': 'ok', 'error': None, 'figures': []})\n"
        + "wait_like_the_runner()\n"
    )
    r = sb.run(code)
    busy = _busy_after(procs)
    assert r.verdict == "timeout" or not busy, (
        f"run returned {r.verdict!r} after {r.duration_s:.2f}s but the code keeps running: {busy}"
    )
    _recovers(sb)


def test_forged_reply_with_giant_figures(
    make_sandbox: Any, kit: Any, token: str, sandbox_mod: Any
) -> None:
    """A reply written by user code claiming huge/many figures: the host must enforce the
    figure limits itself and keep its own memory bounded."""
    sb = make_sandbox(timeout_s=20)
    limits = sandbox_mod.Limits()
    hwm = kit.vm_hwm_kb()
    code = (
        kit.tag_code(token)
        + FIND_CTL
        + "big = 'QUFB' * 25_000_000\n"  # 100 MB of valid base64 (old protocol: JSON figures)
        + "png = b'\\x89PNG\\r\\n\\x1a\\n' + b'\\0' * 100\n"
        + "forge({'verdict': 'ok', 'error': None, 'figures': [big] + ['iVBORw0KGgo='] * 5000},\n"
        + "      pngs=[png] * 5000 + [png + bytes(100_000_000)])\n"
        + "del big\n"
    )
    r = sb.run(code)
    assert len(r.figures) <= limits.max_figures, f"{len(r.figures)} figures returned"
    too_big = [len(f.data) for f in r.figures if len(f.data) > limits.max_figure_bytes * 4 // 3 + 4]
    assert not too_big, f"figures over max_figure_bytes returned: {too_big}"
    grew_mb = (kit.vm_hwm_kb() - hwm) // 1024
    assert grew_mb < 150, f"the supervisor's memory grew by {grew_mb} MB for one forged reply"
    r2 = sb.run("print(6 * 7)")
    assert r2.verdict == "ok" and r2.stdout.strip() == "42", (r2.verdict, r2.stdout)


def test_garbage_on_the_control_socket(make_sandbox: Any, kit: Any, token: str) -> None:
    sb = make_sandbox(timeout_s=5)
    code = (
        kit.tag_code(token)
        + FIND_CTL
        + "os.write(ctl, struct.pack('!I', 12) + b'{not json!!}')\n"
        + "os.write(ctl, struct.pack('!I', 0xFFFFFFF0))\n"
    )
    r = sb.run(code)
    assert r.verdict in ("internal_error", "runtime_error"), (r.verdict, r.error)
    r2 = sb.run("print(6 * 7)")
    assert r2.verdict == "ok" and r2.stdout.strip() == "42", (r2.verdict, r2.stdout)


def test_giant_exception_message(make_sandbox: Any, kit: Any, token: str) -> None:
    sb = make_sandbox(timeout_s=20)
    limit = 1 << 20
    sb = make_sandbox(timeout_s=20, max_output_bytes=limit)
    hwm = kit.vm_hwm_kb()
    r = sb.run(kit.tag_code(token) + "raise ValueError('A' * 60_000_000)\n")
    assert r.verdict == "runtime_error", (r.verdict, r.error)
    assert r.error is not None and r.error.name == "ValueError"
    size = len(r.error.message) + len(r.error.traceback)
    assert size <= 4 * limit, f"error message of {size} chars returned (output limit {limit})"
    grew_mb = (kit.vm_hwm_kb() - hwm) // 1024
    assert grew_mb < 150, f"the supervisor's memory grew by {grew_mb} MB for one exception"


@pytest.mark.parametrize(
    "body",
    [
        "def __str__(self):\n        raise SystemExit(3)",
        "def __str__(self):\n        raise RecursionError('x')",
        "def __str__(self):\n        while True:\n            pass",
        "def __repr__(self):\n        raise KeyboardInterrupt",
    ],
    ids=["str-SystemExit", "str-raises", "str-loops", "repr-KeyboardInterrupt"],
)
def test_hostile_exception(make_sandbox: Any, kit: Any, token: str, body: str) -> None:
    sb = make_sandbox(timeout_s=3)
    code = kit.tag_code(token) + f"class Evil(Exception):\n    {body}\nraise Evil('boom')\n"
    r = sb.run(code)
    assert r.verdict in ("runtime_error", "timeout", "internal_error"), (r.verdict, r.error)
    assert r.outcome != "OUTCOME_OK"
    r2 = sb.run("print(6 * 7)")
    assert r2.verdict == "ok" and r2.stdout.strip() == "42", (r2.verdict, r2.stdout, r2.error)


@pytest.mark.parametrize(
    "code",
    [
        "raise SystemExit(0)",
        "os._exit(0)",
        "os.close(1)\nos.close(2)",
        "sys.stdout = None",
        "os.kill(os.getpid(), signal.SIGSTOP)",
        "input()",
        "sys.stdin.read()\nos.read(0, 10)",
    ],
    ids=["SystemExit", "os._exit", "close-stdio", "stdout-None", "SIGSTOP-self", "input", "stdin"],
)
def test_interpreter_sabotage(make_sandbox: Any, kit: Any, token: str, code: str) -> None:
    sb = make_sandbox(timeout_s=1.5)
    r = sb.run(kit.tag_code(token) + code + "\n")
    assert r.verdict in ("ok", "runtime_error", "timeout"), (r.verdict, r.error)
    r2 = sb.run("print(6 * 7)")
    assert r2.verdict == "ok" and r2.stdout.strip() == "42", (r2.verdict, r2.stdout, r2.error)


def test_hostile_file_names_serialize(make_sandbox: Any, kit: Any, token: str) -> None:
    """Names the host must list, serialize to JSON (the HTTP server does) and read back: not
    UTF-8, a newline, terminal escapes, 255 bytes."""
    sb = make_sandbox(timeout_s=10)
    code = (
        kit.tag_code(token)
        + "for raw in (b'\\xff\\xfe.txt', b'line\\nbreak.csv', b'\\x1b[2Jclear.txt', b'x' * 255):\n"
        + "    fd = os.open(raw, os.O_WRONLY | os.O_CREAT, 0o644)\n"
        + "    os.write(fd, b'data')\n    os.close(fd)\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    assert len(r.files) == 4, r.files
    json.dumps(r.to_dict())
    r.model_dump_json()  # what a JSON API response does
    listed = sb.list_files()
    for f in listed:
        f.model_dump_json()
        assert sb.read_file(f.name) == b"data"


def test_deep_and_wide_workspace(make_sandbox: Any, kit: Any, token: str, sandbox_mod: Any) -> None:
    """20,000 entries in one directory (half FIFOs) and a 300-level deep tree: the host's
    listing stays bounded and never fails."""
    sb = make_sandbox(timeout_s=20)
    code = (
        kit.tag_code(token)
        + "os.mkdir('wide')\n"
        + "for i in range(20000):\n"
        + "    os.mkfifo(f'wide/p{i}') if i % 2 else open(f'wide/f{i}', 'w').close()\n"
        + "for i in range(300):\n"
        + "    os.mkdir('d')\n    os.chdir('d')\n"
        + "open('deep.txt', 'w').write('deep')\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    json.dumps(r.to_dict())
    listed = sb.list_files()
    assert len(listed) <= 10_000
    for f in listed[:5]:
        try:
            sb.read_file(f.name)
        except sandbox_mod.SandboxError:
            pass
