"""OS isolation: namespaces and the minimal read-only root (zygote), per-session setup (child).

Levels: "root" (real root: namespaces, distinct uid per session, cgroups), "userns" (an
unprivileged user namespace: same isolation of the filesystem and network, one uid, no
capabilities), "none" (no namespaces available: rlimits only; a loud warning is logged).
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile

from sandbox import _libc as c

NEW_ROOT_MARK = "/.codexec-root"
WORKSPACES = "/workspaces"
WORKSPACE = "/workspace"
_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib64", "lib32", "libx32")
_ETC_ENTRIES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "mime.types",
    "fonts",
    "alternatives",
    "ssl",
    "hosts",
    "nsswitch.conf",
    "os-release",
    "matplotlibrc",
)
NO_ISOLATION_REASON = ""
HOST_PROC = "/.host-proc"
USERNS_NPROC_HEADROOM = 64
DEFAULT_TMP_MB = 512  # Limits.max_workspace_mb's default
_DEVICES = ("null", "zero", "full", "random", "urandom")


def log(msg: str) -> None:
    print(f"sandbox: {msg}", file=sys.stderr, flush=True)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_namespaces() -> str:
    """Enter new mount/net/ipc/uts namespaces; returns the isolation level."""
    flags = c.CLONE_NEWNS | c.CLONE_NEWNET | c.CLONE_NEWIPC | c.CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    # CODEXEC_SANDBOX_LEVEL=userns makes root take the unprivileged path (to test it).
    forced_userns = os.environ.get("CODEXEC_SANDBOX_LEVEL") == "userns"
    try:
        if uid == 0 and not forced_userns:
            c.unshare(flags)
            level = "root"
        else:
            c.unshare(flags | c.CLONE_NEWUSER)
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
            level = "userns"
    except OSError as e:
        global NO_ISOLATION_REASON
        NO_ISOLATION_REASON = f"cannot create namespaces: {e}"
        return "none"
    try:
        import socket

        socket.sethostname("sandbox")
    except OSError:
        pass
    return level


def _bind(src: str, dst: str, *, readonly: bool = True, dev: bool = False) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            open(dst, "w").close()
    c.mount(src, dst, None, c.MS_BIND | c.MS_REC)
    if not readonly:
        return
    # Keep the source's locked flags (needed in a user namespace), add ours.
    st = os.statvfs(src)
    flags = c.MS_REMOUNT | c.MS_BIND | c.MS_RDONLY | c.MS_NOSUID
    flags |= st.f_flag & (c.MS_NODEV | c.MS_NOEXEC)
    if not dev:
        flags |= c.MS_NODEV
    try:
        c.mount("none", dst, None, flags)
    except OSError:
        atime = st.f_flag & (os.ST_NOATIME | os.ST_NODIRATIME)
        if st.f_flag & os.ST_RELATIME:
            atime |= c.MS_RELATIME
        c.mount("none", dst, None, flags | atime)


def _copy_entry(src: str, dst: str) -> None:
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
    elif os.path.exists(src):
        _bind(src, dst)


def build_root(extra_paths: list[str], level: str, scratch: str) -> None:
    """pivot_root into a fresh tmpfs holding only what Python and the libraries need."""
    c.mount("none", "/", None, c.MS_REC | c.MS_PRIVATE)
    root = tempfile.mkdtemp(prefix="root-", dir=scratch)  # the host removes `scratch`
    c.mount("tmpfs", root, "tmpfs", c.MS_NOSUID | c.MS_NODEV, "mode=0755,size=16m")
    for name in _SYSTEM_DIRS:
        _copy_entry(f"/{name}", f"{root}/{name}")
    os.makedirs(f"{root}/etc")
    for name in _ETC_ENTRIES:
        _copy_entry(f"/etc/{name}", f"{root}/etc/{name}")
    _write(
        f"{root}/etc/passwd",
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        "sandbox:x:1000:1000:sandbox:/workspace:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    )
    _write(f"{root}/etc/group", "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n")
    bound: list[str] = []
    for path in sorted({os.path.realpath(p) for p in extra_paths if os.path.exists(p)}):
        if not any(path == b or path.startswith(b + "/") for b in bound):
            _bind(path, root + path)
            bound.append(path)
    os.makedirs(f"{root}/dev")
    c.mount("tmpfs", f"{root}/dev", "tmpfs", c.MS_NOSUID | c.MS_NOEXEC, "mode=0755,size=64k")
    for name in _DEVICES:
        _bind(f"/dev/{name}", f"{root}/dev/{name}", readonly=False, dev=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
        os.symlink(target, f"{root}/dev/{name}")
    os.symlink("/proc/self/fd/1", f"{root}/dev/stdout")
    os.symlink("/proc/self/fd/2", f"{root}/dev/stderr")
    os.makedirs(f"{root}/dev/shm")
    for d in ("proc", "tmp", WORKSPACE[1:], WORKSPACES[1:], "old"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    os.chmod(f"{root}/tmp", 0o1777)
    c.mount("tmpfs", f"{root}{WORKSPACES}", "tmpfs", c.MS_NOSUID | c.MS_NODEV, "mode=0711,size=1m")
    _write(f"{root}{NEW_ROOT_MARK}", level)
    c.pivot_root(root, f"{root}/old")
    os.chdir("/")
    if level != "root":
        os.makedirs(HOST_PROC, mode=0o700)
        c.mount("/old/proc", HOST_PROC, None, c.MS_BIND | c.MS_REC)
    c.umount("/old")
    os.rmdir("/old")
    if level == "root":
        c.mount("proc", "/proc", "proc", c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC)
    # (In a user namespace a new proc may only be mounted where a complete one is visible: the
    # host's stays at HOST_PROC, mode 0700, until each session has mounted its own.)
    c.mount("none", "/", None, c.MS_REMOUNT | c.MS_RDONLY | c.MS_NOSUID | c.MS_NODEV)
    c.mount("none", WORKSPACES, None, c.MS_SHARED)


def make_workspace(path: str, uid: int, gid: int, size_mb: int, level: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)
    if level == "none":
        os.chmod(path, 0o700)
        return
    opts = f"mode=0700,uid={uid},gid={gid},size={size_mb}m"
    c.mount("tmpfs", path, "tmpfs", c.MS_NOSUID | c.MS_NODEV, opts)


def remove_workspace(path: str, level: str) -> None:
    if level == "none":
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        c.umount(path)
        os.rmdir(path)
    except OSError as e:
        log(f"cannot remove workspace {path}: {e}")


def prepare_session(level: str) -> None:
    """In a pooled session's pid-1 process, before it is claimed: its own /proc and /dev/shm."""
    if level == "none":
        os.setsid()
        return
    flags = c.MS_NOSUID | c.MS_NODEV
    if level == "root":
        c.umount("/proc")
    c.mount("proc", "/proc", "proc", flags | c.MS_NOEXEC)
    if level != "root":
        c.umount(HOST_PROC)
    c.mount("tmpfs", "/dev/shm", "tmpfs", flags | c.MS_NOEXEC, "mode=1777,size=64m")
    # Host paths bound below /tmp (a venv or checkout living there) would vanish under the
    # private /tmp: hold them by fd, then bind them back on top of it.
    below_tmp = [(path, os.open(path, os.O_PATH)) for path in _mount_points_below("/tmp")]
    c.mount("tmpfs", "/tmp", "tmpfs", flags, f"mode=1777,size={DEFAULT_TMP_MB}m")
    for path, fd in below_tmp:
        _bind(f"/proc/self/fd/{fd}", path)
        os.close(fd)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        _write("/proc/self/oom_score_adj", "1000")
    except OSError:
        pass


def _mount_points_below(directory: str) -> list[str]:
    """The outermost mount points strictly below `directory` (from /proc/self/mountinfo)."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            if point.startswith(directory + "/") and "\\" not in point:  # skip escaped names
                points.append(point)
    outermost = [p for p in points if not any(p.startswith(q + "/") for q in points)]
    return sorted(set(outermost))


def setup_session(ws: str, uid: int, gid: int, limits: dict, level: str) -> str:
    """At claim time: private /tmp, the workspace at /workspace; then drop privileges.

    Returns the workspace path as the session sees it.
    """
    if level != "none":
        flags = c.MS_NOSUID | c.MS_NODEV
        if limits["max_workspace_mb"] != DEFAULT_TMP_MB:
            tmp_opts = f"mode=1777,size={limits['max_workspace_mb']}m"
            c.mount("tmpfs", "/tmp", "tmpfs", flags | c.MS_REMOUNT, tmp_opts)
        # /workspaces is shared with the zygote (so new workspaces reach pooled sessions);
        # leave its peer group before touching it, then hide all other workspaces.
        c.mount("none", WORKSPACES, None, c.MS_REC | c.MS_PRIVATE)
        c.mount(ws, WORKSPACE, None, c.MS_BIND)
        c.mount("none", WORKSPACE, None, c.MS_PRIVATE)
        c.umount(WORKSPACES)  # the other sessions' workspaces: not even their mount points
        ws = WORKSPACE
    _set_rlimits(limits, level)
    if level == "root":
        c.drop_bounding_set()
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    elif level == "userns":
        c.drop_all_capabilities()
    c.prctl(c.PR_SET_NO_NEW_PRIVS, 1)
    os.chdir(ws)
    return ws


def _set_rlimits(limits: dict, level: str) -> None:
    mb = 1024 * 1024

    def lim(res: int, value: int) -> None:
        _, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))

    lim(resource.RLIMIT_CORE, 0)
    lim(resource.RLIMIT_FSIZE, limits["max_file_mb"] * mb)
    lim(resource.RLIMIT_NOFILE, 1024)
    lim(resource.RLIMIT_MEMLOCK, 0)
    lim(resource.RLIMIT_MSGQUEUE, 0)
    if level == "root":
        lim(resource.RLIMIT_NPROC, limits["max_procs"])  # the session's own uid
    elif level == "userns":
        # Counted per user namespace (Linux 5.14+), which the zygote's processes and all its
        # sessions share: headroom for them, still a bound on a fork bomb.
        lim(resource.RLIMIT_NPROC, limits["max_procs"] + USERNS_NPROC_HEADROOM)
    if limits.get("rlimit_memory"):
        # Without a memory cgroup: RLIMIT_DATA (RLIMIT_AS breaks multi-threaded BLAS).
        lim(resource.RLIMIT_DATA, limits["memory_mb"] * mb)
