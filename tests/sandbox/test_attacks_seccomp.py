"""sandbox.jail.seccomp: the filter's program (checked with a small cBPF interpreter for both
architectures) and the real filter installed in forked children / fresh interpreters."""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import platform
import signal
import socket
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.jail import seccomp

AUDIT_X86_64 = 0xC000003E
AUDIT_AARCH64 = 0xC00000B7
AUDIT_I386 = 0x40000003
ALLOW = 0x7FFF0000
KILL = 0x80000000
EPERM = 0x00050000 | errno.EPERM
ENOSYS = 0x00050000 | errno.ENOSYS

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux only")


def run_bpf(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """Evaluate a classic-BPF seccomp program (the opcodes build_filter uses) on seccomp_data."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    ins = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = ins[pc]
        if code == 0x20:  # ld [k]
            (acc,) = struct.unpack_from("=I", data, k)
        elif code == 0x06:  # ret k
            return k
        elif code in (0x15, 0x35, 0x45):
            cond = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if cond else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


@pytest.mark.parametrize(
    ("machine", "arch", "table"),
    [("x86_64", AUDIT_X86_64, seccomp._X86_64), ("aarch64", AUDIT_AARCH64, seccomp._AARCH64)],
)
def test_program_decisions(machine: str, arch: int, table: dict[str, int]) -> None:
    prog = seccomp.build_filter(machine)
    for name in seccomp.DENIED_SYSCALLS:
        if name in table:
            assert run_bpf(prog, table[name], arch) == EPERM, name
    # everyday syscalls pass: read, write, openat, mmap, exit_group
    for nr in {"x86_64": (0, 1, 257, 9, 231), "aarch64": (63, 64, 56, 222, 94)}[machine]:
        assert run_bpf(prog, nr, arch) == ALLOW
    assert run_bpf(prog, table["socket"], arch, socket.AF_UNIX) == ALLOW
    for fam in (socket.AF_INET, socket.AF_INET6, 16, 17):  # 16 netlink, 17 packet
        assert run_bpf(prog, table["socket"], arch, fam) == EPERM
    assert run_bpf(prog, table["clone"], arch, 0x11) == ALLOW  # fork: SIGCHLD
    assert run_bpf(prog, table["clone"], arch, 0x3D0F00) == ALLOW  # pthread_create flags
    for ns_flag in (0x10000000, 0x20000000, 0x40000000, 0x00020000):
        assert run_bpf(prog, table["clone"], arch, 0x11 | ns_flag) == EPERM
    assert run_bpf(prog, table["clone3"], arch) == ENOSYS
    # wrong audit arch (i386 int 0x80, or the other 64-bit arch) -> kill the process
    other = AUDIT_AARCH64 if arch == AUDIT_X86_64 else AUDIT_X86_64
    assert run_bpf(prog, 0, other) == KILL
    assert run_bpf(prog, 0, AUDIT_I386) == KILL


def test_x32_abi_refused() -> None:
    prog = seccomp.build_filter("x86_64")
    assert run_bpf(prog, 0x40000000 | 0, AUDIT_X86_64) == EPERM


def test_unknown_arch_is_an_error() -> None:
    with pytest.raises(seccomp.SeccompError, match="unsupported architecture"):
        seccomp.build_filter("riscv64")


def in_filtered_child(probe: Callable[[], Any]) -> tuple[Any, int]:
    """Fork, install the filter in the child, run probe() there; return (its JSON result, the
    child's wait status)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(rfd)
            os.setsid()  # no controlling terminal, so even an unfiltered vhangup is harmless
            seccomp.install_filter()
            out = json.dumps({"ok": probe()}).encode()
        except BaseException as exc:  # report everything to the parent
            out = json.dumps({"error": repr(exc)}).encode()
            code = 1
        try:
            os.write(wfd, out)
        finally:
            os._exit(code)
    os.close(wfd)
    chunks = []
    while chunk := os.read(rfd, 65536):
        chunks.append(chunk)
    os.close(rfd)
    _, status = os.waitpid(pid, 0)
    data = json.loads(b"".join(chunks) or b"{}")
    assert "error" not in data, data.get("error")
    return data.get("ok"), status


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _raw(nr: int, *args: int) -> tuple[int, int]:
    libc = _libc()
    ctypes.set_errno(0)
    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a & (2**64 - 1)) for a in args])
    return rc, ctypes.get_errno()


def _table() -> dict[str, int]:
    return seccomp._ARCHES[platform.machine().lower()][1]


def test_denied_syscalls_get_eperm_in_a_real_child() -> None:
    def probe() -> dict[str, Any]:
        table = _table()
        out: dict[str, Any] = {}
        for name in seccomp.DENIED_SYSCALLS:
            if name in table:
                # all-ones arguments are invalid for each of these calls, should the filter fail
                out[name] = _raw(table[name], *([-1] * 6))
        status = open("/proc/self/status").read()
        out["status"] = {
            k: v.strip()
            for k, _, v in (ln.partition(":") for ln in status.splitlines())
            if k in ("Seccomp", "NoNewPrivs")
        }
        return out

    out, status = in_filtered_child(probe)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert out.pop("status") == {"Seccomp": "2", "NoNewPrivs": "1"}
    wrong = {name: rc for name, rc in out.items() if tuple(rc) != (-1, errno.EPERM)}
    assert not wrong, f"not refused with EPERM: {wrong}"


def test_sockets_only_af_unix() -> None:
    def probe() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fam, typ in [
            (socket.AF_INET, socket.SOCK_STREAM),
            (socket.AF_INET, socket.SOCK_DGRAM),
            (socket.AF_INET6, socket.SOCK_STREAM),
            (socket.AF_NETLINK, socket.SOCK_RAW),
            (socket.AF_PACKET, socket.SOCK_RAW),
        ]:
            try:
                socket.socket(fam, typ).close()
                out[f"{fam.name}/{typ.name}"] = "opened"
            except OSError as exc:
                out[f"{fam.name}/{typ.name}"] = exc.errno
        a, b = socket.socketpair()
        a.sendall(b"ping")
        out["socketpair"] = b.recv(4).decode()
        return out

    out, _ = in_filtered_child(probe)
    assert out.pop("socketpair") == "ping"
    assert set(out.values()) == {errno.EPERM}, out


def test_namespaces_and_ptrace_refused_but_fork_threads_exec_work() -> None:
    def probe() -> dict[str, Any]:
        import threading

        table = _table()
        out: dict[str, Any] = {}
        # clone(CLONE_NEWUSER | SIGCHLD): a raw fork into a new user namespace
        rc, err = _raw(table["clone"], 0x10000000 | signal.SIGCHLD, 0, 0, 0, 0)
        if rc == 0:
            os._exit(0)
        out["clone_newuser"] = (rc, err)
        out["unshare_newnet"] = _raw(table["unshare"], 0x40000000)
        out["ptrace_traceme"] = _raw(table["ptrace"], 0, 0, 0, 0)
        out["mount"] = (_libc().mount(b"none", b"/mnt", b"tmpfs", 0, None), ctypes.get_errno())
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out["fork_exit"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        box: list[int] = []
        t = threading.Thread(target=lambda: box.append(os.getpid()))
        t.start()
        t.join()
        out["thread"] = box == [os.getpid()]
        proc = subprocess.run([sys.executable, "-c", "print(6*7)"], capture_output=True)
        out["exec"] = proc.stdout.decode().strip()
        return out

    out, _ = in_filtered_child(probe)
    for key in ("clone_newuser", "unshare_newnet", "ptrace_traceme", "mount"):
        assert tuple(out[key]) == (-1, errno.EPERM), (key, out[key])
    assert out["fork_exit"] == 7
    assert out["thread"] is True
    assert out["exec"] == "42"


def _int80_getpid() -> int:
    """Call i386 getpid through `int 0x80` from a page of machine code."""
    code = b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"  # mov eax, 20; int 0x80; ret
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    return ctypes.CFUNCTYPE(ctypes.c_int)(addr)()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="int 0x80 is x86 only")
def test_foreign_abi_kills_the_process() -> None:
    # without the filter: does this kernel run i386 syscalls at all?
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _int80_getpid() == os.getpid() else 3)
    _, status = os.waitpid(pid, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        pytest.skip("this kernel has no ia32 emulation (int 0x80 does not work even unfiltered)")
    _, status = in_filtered_child(_int80_getpid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS, status


LIBS_CODE = textwrap.dedent(
    """
    import io, json, multiprocessing, sys
    from concurrent.futures import ThreadPoolExecutor
    from sandbox.jail.seccomp import install_filter

    def square(x):
        return x * x

    if __name__ == "__main__":
        install_filter()
        import numpy as np
        import pandas as pd
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        a = np.random.default_rng(0).random((300, 300))
        out = {"matmul": float((a @ a).sum() > 0), "inv": bool(np.allclose(np.linalg.inv(a) @ a,
               np.eye(300), atol=1e-6))}
        df = pd.DataFrame({"k": [1, 2, 1, 2], "v": [1.0, 2.0, 3.0, 4.0]})
        out["groupby"] = df.groupby("k")["v"].sum().tolist()
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        out["png"] = buf.getvalue()[:4] == b"\\x89PNG"
        with multiprocessing.get_context("fork").Pool(2) as pool:
            out["pool_fork"] = pool.map(square, range(5))
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            out["pool_spawn"] = pool.map(square, range(3))
        with ThreadPoolExecutor(4) as ex:
            out["threads"] = sum(ex.map(square, range(10)))
        print(json.dumps(out))
    """
)


def test_numpy_pandas_matplotlib_multiprocessing_work_under_the_filter(tmp_path: Any) -> None:
    pytest.importorskip("numpy")
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    script = tmp_path / "libs.py"
    script.write_text(LIBS_CODE)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(seccomp.__file__))))
    env = {**os.environ, "PYTHONPATH": root, "OPENBLAS_NUM_THREADS": "2", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "matmul": 1.0,
        "inv": True,
        "groupby": [4.0, 6.0],
        "png": True,
        "pool_fork": [0, 1, 4, 9, 16],
        "pool_spawn": [0, 1, 4],
        "threads": 285,
    }
