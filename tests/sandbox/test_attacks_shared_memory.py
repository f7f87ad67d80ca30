"""Memory that RLIMIT_DATA does not see (shared anonymous maps, memfd, tmpfs files) is bounded
by the session's memory cgroup in every isolation mode; without a cgroup the sandbox refuses.
Also the CPU quota, and cgroup v2 against a fake cgroup2 tree (this host has v1 only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox import cgroups

REPO = Path(__file__).resolve().parents[2]
_PRE = "import sys, numpy\nmmap = sys.modules['mmap']\nos = sys.modules['os']\nheld = []\n"
GB2 = 2 << 30
ATTACKS = {
    "shared-anonymous": _PRE
    + "m = mmap.mmap(-1, 2 << 30, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)\n"
    "for i in range(0, 2 << 30, 4096):\n    m[i] = 1\nprint('held 2 GB')\n",
    # eight memfds of 255 MB each (each below RLIMIT_FSIZE)
    "memfd": _PRE + "for _ in range(8):\n"
    "    fd = os.memfd_create('x')\n    os.ftruncate(fd, 255 << 20)\n"
    "    m = mmap.mmap(fd, 255 << 20)\n    held.append(m)\n"
    "    for i in range(0, 255 << 20, 4096):\n        m[i] = 1\nprint('held 2 GB')\n",
    "tmpfs-files": _PRE + "n = 0\nfor d in ('/dev/shm', '/tmp', '/tmp', '.', '.'):\n"
    "    try:\n        with open(f'{d}/big{n}', 'wb') as f:\n"
    "            for _ in range(255):\n                f.write(b'x' * (1 << 20)); n += 1\n"
    "    except OSError:\n        pass\nprint('wrote MB', n)\nif n >= 1024: print('held 2 GB')\n",
}
_RUN_IN_CHILD = """
import json, sys
from sandbox import Limits, Sandbox
out = {}
with Sandbox(Limits(memory_mb=512, timeout_s=60)) as sb:
    out["level"] = sb.isolation_level
    for name, code in json.loads(sys.argv[1]).items():
        r = sb.run(code)
        out[name] = [r.verdict, r.stdout]
    out["alive"] = sb.run("print('alive')").stdout.strip()
print(json.dumps(out))
"""


def _child(env: dict[str, str], code: str, *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=full, capture_output=True, text=True, timeout=300
    )


def _assert_bounded(verdict: str, stdout: str) -> None:
    assert "held 2 GB" not in stdout, stdout
    assert verdict in ("memory_limit", "runtime_error"), (verdict, stdout)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_shared_memory_is_bounded_as_root(make_sandbox: Any, kit: Any, attack: str) -> None:
    sb = make_sandbox(timeout_s=60, memory_mb=512)
    hwm = kit.vm_hwm_kb()
    r = sb.run(ATTACKS[attack])
    _assert_bounded(r.verdict, r.stdout)
    if attack != "tmpfs-files":
        assert r.verdict == "memory_limit", (r.verdict, r.error)
    assert kit.vm_hwm_kb() - hwm < 200_000, "the host process's memory grew"
    assert sb.run("print('alive')").stdout.strip() == "alive"


@pytest.mark.skipif(os.geteuid() != 0, reason="forcing the userns level needs root")
def test_shared_memory_is_bounded_in_the_unprivileged_mode() -> None:
    done = _child({"CODEXEC_SANDBOX_LEVEL": "userns"}, _RUN_IN_CHILD, json.dumps(ATTACKS))
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["level"] == "userns"
    for name in ATTACKS:
        _assert_bounded(*out[name])
    assert out["shared-anonymous"][0] == out["memfd"][0] == "memory_limit"
    assert out["alive"] == "alive"


def test_no_memory_cgroup_refuses_with_a_way_out(tmp_path: Path) -> None:
    empty = tmp_path / "no-cgroups"
    empty.mkdir()
    done = _child({"CODEXEC_CGROUP_ROOT": str(empty)}, _RUN_IN_CHILD, json.dumps({}))
    assert done.returncode != 0
    assert "SandboxError" in done.stderr and "no memory cgroup" in done.stderr
    assert "CODEXEC_ALLOW_WEAK_MEMORY_LIMIT=1" in done.stderr and "delegated" in done.stderr


def test_the_weak_mode_is_explicit_and_loud(tmp_path: Path) -> None:
    env = {"CODEXEC_CGROUP_ROOT": str(tmp_path), "CODEXEC_ALLOW_WEAK_MEMORY_LIMIT": "1"}
    done = _child(env, _RUN_IN_CHILD, json.dumps({}))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["alive"] == "alive"
    assert "WARNING: no memory cgroup" in done.stderr


def test_the_cpu_quota_holds(make_sandbox: Any) -> None:
    sb = make_sandbox(timeout_s=20, cpus=0.2)
    cpu_dir = sb._state.proc.cgroup.cpu
    if cpu_dir:  # cgroup v1 with the cpu controller
        assert Path(cpu_dir, "cpu.cfs_quota_us").read_text().strip() == "20000"
    code = "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass\n"
    code += "print(time.process_time())"
    r = sb.run(code)
    assert r.verdict == "ok", r.error
    assert float(r.stdout) < 0.6, f"{r.stdout} s of CPU in 1.5 s at 0.2 CPUs"


# -- cgroup v2, against a directory laid out like a cgroup2 mount ----------------------------
def _fake_cgroup2(root: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    root.mkdir(exist_ok=True)
    (root / "cgroup.controllers").write_text(controllers + "\n")
    (root / "cgroup.subtree_control").write_text("")
    (root / "cgroup.procs").write_text("")
    return root


def _own_v2_path() -> str:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return line[3:]
    return "/"


def test_v2_discovery_enables_the_controllers(tmp_path: Path, monkeypatch: Any) -> None:
    root = _fake_cgroup2(tmp_path / "cg")
    parent = _fake_cgroup2(root / "codexec")
    monkeypatch.setenv("CODEXEC_CGROUP_ROOT", str(root))
    monkeypatch.setenv("CODEXEC_CGROUP_PARENT", "codexec")
    found = cgroups.discover()
    assert found.version == 2 and not found.problem
    path, fd = found.parents[cgroups.UNIFIED]
    assert path == str(parent)
    assert (parent / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"

    # what the kernel creates with the session's directory, then the session's own writes
    name = f"codexec-{os.getpid()}-1"
    session = parent / name
    session.mkdir()
    for f in ("cgroup.procs", "memory.max", "memory.swap.max", "memory.oom.group", "pids.max",
              "cpu.max"):  # fmt: skip
        (session / f).write_text("")
    sfd = cgroups.join(fd, name)
    assert (session / "cgroup.procs").read_text() == "0"
    cgroups.set_limits({cgroups.UNIFIED: sfd}, memory_mb=512, max_procs=64, cpus=0.5)
    assert (session / "memory.max").read_text() == str(512 << 20)
    assert (session / "memory.swap.max").read_text() == "0"
    assert (session / "memory.oom.group").read_text() == "1"
    assert (session / "pids.max").read_text() == "64"
    assert (session / "cpu.max").read_text() == "50000 100000"
    os.close(sfd)
    os.close(fd)

    view = cgroups.SessionCgroup(unified=str(session))
    (session / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    (session / "cgroup.procs").write_text("123\n456\n")
    assert view.oom_kills() == 1 and view.pids_list() == [123, 456]


def test_v2_without_delegation_explains_what_to_do(tmp_path: Path, monkeypatch: Any) -> None:
    root = _fake_cgroup2(tmp_path / "cg")
    monkeypatch.setenv("CODEXEC_CGROUP_ROOT", str(root))
    monkeypatch.setenv("CODEXEC_CGROUP_PARENT", "missing")
    problem = cgroups.discover().problem
    assert "not writable" in problem and "CODEXEC_CGROUP_PARENT" in problem

    _fake_cgroup2(root / "nomem", controllers="cpu io")
    monkeypatch.setenv("CODEXEC_CGROUP_PARENT", "nomem")
    found = cgroups.discover()
    assert found.version is None and "lacks the memory, pids" in found.problem

    busy = _fake_cgroup2(root / "busy")
    (busy / "cgroup.subtree_control").unlink()
    (busy / "cgroup.subtree_control").mkdir()  # the write fails, as EBUSY would
    monkeypatch.setenv("CODEXEC_CGROUP_PARENT", "busy")
    found = cgroups.discover()
    assert found.version is None and "cannot enable" in found.problem
    assert "delegated" in found.problem

    own = _own_v2_path()
    monkeypatch.delenv("CODEXEC_CGROUP_PARENT")
    mine = _fake_cgroup2(root / own.lstrip("/")) if own != "/" else root
    assert cgroups.discover().parents[cgroups.UNIFIED][0] == os.path.normpath(str(mine))


def test_v2_limits_hold_end_to_end_when_the_host_has_v2() -> None:
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("this host has no cgroup v2 hierarchy at /sys/fs/cgroup")
    done = _child({}, _RUN_IN_CHILD, json.dumps({"shared-anonymous": ATTACKS["shared-anonymous"]}))
    if done.returncode != 0:
        assert "no memory cgroup" in done.stderr  # refused, with the reason: also acceptable
        return
    _assert_bounded(*json.loads(done.stdout.splitlines()[-1])["shared-anonymous"])
