"""A seccomp-BPF syscall filter for the sandboxed interpreter (x86_64 and aarch64).

`install_filter()` sets no_new_privs and loads a filter that
- kills the process on a foreign syscall ABI (i386 `int 0x80`, x32 numbers are refused),
- refuses with EPERM the syscalls a sandbox escape or a host attack needs (ptrace, mount,
  namespaces, kernel modules, bpf, keyrings, io_uring, ...), including `clone` with namespace
  flags and `socket` for every family except AF_UNIX,
- answers `clone3` with ENOSYS (its flags live in memory a filter cannot read; glibc then falls
  back to `clone`, whose flags it can check),
- allows everything else.
Errors (EPERM, not kills) let Python raise a clean `PermissionError`/`OSError` in user code.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

__all__ = ["DENIED_SYSCALLS", "SeccompError", "install_filter", "build_filter"]


class SeccompError(RuntimeError):
    """The kernel refused the filter (or the architecture is not supported)."""


# Syscalls refused with EPERM, by name. Names missing on an architecture are skipped.
DENIED_SYSCALLS: tuple[str, ...] = (
    "ptrace",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "process_vm_readv",
    "process_vm_writev",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "settimeofday",
    "clock_settime",
    "syslog",
    "open_by_handle_at",
    "name_to_handle_at",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # the new mount API
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    # misc privileged or legacy
    "quotactl",
    "quotactl_fd",
    "vhangup",
    "lookup_dcookie",
    "fanotify_init",
    "iopl",
    "ioperm",
    "uselib",
    "modify_ldt",
    # reaching into other processes (same uid) without ptrace
    "pidfd_getfd",
    "process_madvise",
)

_X86_64: dict[str, int] = {
    "ptrace": 101, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "unshare": 272, "setns": 308, "kexec_load": 246, "kexec_file_load": 320,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321,
    "perf_event_open": 298, "keyctl": 250, "add_key": 248, "request_key": 249,
    "userfaultfd": 323, "process_vm_readv": 310, "process_vm_writev": 311, "swapon": 167,
    "swapoff": 168, "reboot": 169, "acct": 163, "settimeofday": 164, "clock_settime": 227,
    "syslog": 103, "open_by_handle_at": 304, "name_to_handle_at": 303, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "quotactl": 179, "quotactl_fd": 443, "vhangup": 153, "lookup_dcookie": 212,
    "fanotify_init": 300, "iopl": 172, "ioperm": 173, "uselib": 134, "modify_ldt": 154,
    "pidfd_getfd": 438, "process_madvise": 440,
    "socket": 41, "clone": 56, "clone3": 435, "seccomp": 317,
}  # fmt: skip

_AARCH64: dict[str, int] = {
    "ptrace": 117, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
    "unshare": 97, "setns": 268, "kexec_load": 104, "kexec_file_load": 294,
    "init_module": 105, "finit_module": 273, "delete_module": 106, "bpf": 280,
    "perf_event_open": 241, "keyctl": 219, "add_key": 217, "request_key": 218,
    "userfaultfd": 282, "process_vm_readv": 270, "process_vm_writev": 271, "swapon": 224,
    "swapoff": 225, "reboot": 142, "acct": 89, "settimeofday": 170, "clock_settime": 112,
    "syslog": 116, "open_by_handle_at": 265, "name_to_handle_at": 264, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "quotactl": 60, "quotactl_fd": 443, "vhangup": 58, "lookup_dcookie": 18,
    "fanotify_init": 262, "pidfd_getfd": 438, "process_madvise": 440,
    "socket": 198, "clone": 220, "clone3": 435, "seccomp": 277,
}  # fmt: skip

# machine name -> (AUDIT_ARCH_*, syscall table, x32 bit to refuse or 0)
_ARCHES: dict[str, tuple[int, dict[str, int], int]] = {
    "x86_64": (0xC000003E, _X86_64, 0x40000000),
    "amd64": (0xC000003E, _X86_64, 0x40000000),
    "aarch64": (0xC00000B7, _AARCH64, 0),
    "arm64": (0xC00000B7, _AARCH64, 0),
}

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

# struct seccomp_data offsets: nr, arch, instruction_pointer, args[6] (args[0] low word: 16)
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LO = 16

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

_AF_UNIX = 1
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (NEWTIME 0x80 overlaps
# the exit-signal byte of clone(2) and is only valid for clone3/unshare, both refused anyway)
_CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
_CLONE_NS_FLAGS |= 0x20000000 | 0x40000000

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1


class _Asm:
    """A tiny classic-BPF assembler with forward labels for conditional jumps."""

    def __init__(self) -> None:
        self._ins: list[tuple[int, str | int, str | int, int]] = []
        self._labels: dict[str, int] = {}

    def label(self, name: str) -> None:
        self._labels[name] = len(self._ins)

    def stmt(self, code: int, k: int) -> None:
        self._ins.append((code, 0, 0, k))

    def jump(self, code: int, k: int, jt: str | int, jf: str | int) -> None:
        """Conditional jump; jt/jf are label names or 0 (fall through)."""
        self._ins.append((code, jt, jf, k))

    def assemble(self) -> bytes:
        out = bytearray()
        for pc, (code, jt, jf, k) in enumerate(self._ins):
            offs = []
            for target in (jt, jf):
                off = target if isinstance(target, int) else self._labels[target] - pc - 1
                if not 0 <= off <= 255:
                    raise SeccompError(f"BPF jump out of range at {pc}")
                offs.append(off)
            out += struct.pack("=HBBI", code, offs[0], offs[1], k)
        return bytes(out)


def _machine() -> str:
    return platform.machine().lower()


def build_filter(machine: str | None = None) -> bytes:
    """The filter program (array of struct sock_filter) for `machine` (default: this one)."""
    machine = (machine or _machine()).lower()
    if machine not in _ARCHES:
        raise SeccompError(f"seccomp filter: unsupported architecture {machine!r}")
    audit_arch, table, x32_bit = _ARCHES[machine]
    a = _Asm()
    a.stmt(_LD_W_ABS, _OFF_ARCH)
    a.jump(_JEQ_K, audit_arch, 0, "kill")
    a.stmt(_LD_W_ABS, _OFF_NR)
    if x32_bit:
        a.jump(_JGE_K, x32_bit, "eperm", 0)
    for name in DENIED_SYSCALLS:
        if name in table:
            a.jump(_JEQ_K, table[name], "eperm", 0)
    a.jump(_JEQ_K, table["socket"], "socket", 0)
    a.jump(_JEQ_K, table["clone"], "clone", 0)
    a.jump(_JEQ_K, table["clone3"], "enosys", 0)
    a.stmt(_RET_K, _RET_ALLOW)
    # classic BPF only jumps forward: the shared return blocks come last
    a.label("socket")
    a.stmt(_LD_W_ABS, _OFF_ARG0_LO)
    a.jump(_JEQ_K, _AF_UNIX, "allow", "eperm")
    a.label("clone")
    a.stmt(_LD_W_ABS, _OFF_ARG0_LO)
    a.jump(_JSET_K, _CLONE_NS_FLAGS, "eperm", "allow")
    a.label("allow")
    a.stmt(_RET_K, _RET_ALLOW)
    a.label("eperm")
    a.stmt(_RET_K, _RET_ERRNO | errno.EPERM)
    a.label("enosys")
    a.stmt(_RET_K, _RET_ERRNO | errno.ENOSYS)
    a.label("kill")
    a.stmt(_RET_K, _RET_KILL_PROCESS)
    return a.assemble()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter() -> None:
    """Set no_new_privs and install the filter on every thread of the calling process.

    Irreversible for this process and its descendants. Raises SeccompError on failure.
    """
    machine = _machine()
    program = build_filter(machine)
    libc = ctypes.CDLL(None, use_errno=True)
    ul = ctypes.c_ulong
    if libc.prctl(ul(_PR_SET_NO_NEW_PRIVS), ul(1), ul(0), ul(0), ul(0)) != 0:
        err = ctypes.get_errno()
        raise SeccompError(f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(err)}")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    nr_seccomp = _ARCHES[machine][1]["seccomp"]
    # seccomp(2) with TSYNC also covers threads already running (e.g. BLAS pools)
    rc = libc.syscall(
        ctypes.c_long(nr_seccomp),
        ctypes.c_ulong(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_ulong(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(prog),
    )
    if rc == 0:
        return
    if rc > 0:
        raise SeccompError(f"seccomp TSYNC: thread {rc} could not be synchronized")
    err = ctypes.get_errno()
    if err not in (errno.ENOSYS, errno.EINVAL):
        raise SeccompError(f"seccomp(SET_MODE_FILTER, TSYNC) failed: rc={rc} {os.strerror(err)}")
    # old kernel: prctl covers only the calling thread
    if libc.prctl(ul(_PR_SET_SECCOMP), ul(_SECCOMP_MODE_FILTER), ctypes.byref(prog), ul(0), ul(0)):
        err = ctypes.get_errno()
        raise SeccompError(f"prctl(PR_SET_SECCOMP) failed: {os.strerror(err)}")
