"""Host-side access to a session workspace that never follows a planted symlink or opens a FIFO.

Every path is resolved component by component from the workspace's directory fd with
O_NOFOLLOW, so a symlink (even an absolute one, which would resolve against the *host* root
when reached through /proc/<pid>/root) is refused instead of followed.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import re
import stat

from sandbox.result import FileInfo, SandboxError

MAX_LISTED = 2000
MAX_DEPTH = 8
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

Snapshot = dict[str, tuple[int, int, int]]


class MissingFileError(SandboxError, FileNotFoundError):
    """read_file of a name that is not in the workspace."""


def mime_type(name: str) -> str:
    return mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"


def check_name(name: str) -> list[str]:
    """The components of a relative workspace path; SandboxError if it could escape."""
    if not isinstance(name, str) or not name or "\0" in name or name.startswith("/"):
        raise SandboxError(f"bad file name {name!r}: use a path relative to the workspace")
    parts = [p for p in name.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or any(len(p) > 255 for p in parts):
        raise SandboxError(f"bad file name {name!r}")
    return parts


def _open_parent(root_fd: int, parts: list[str]) -> int:
    fd = os.dup(root_fd)
    try:
        for part in parts[:-1]:
            nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = nxt
    except OSError as e:
        os.close(fd)
        raise SandboxError(f"cannot open directory of {'/'.join(parts)!r}: {e.strerror}") from e
    return fd


def read_file(root_fd: int, name: str, max_bytes: int) -> bytes:
    try:
        return _read_file(root_fd, name, max_bytes)
    except MissingFileError:
        if _undisplay(name) == name:
            raise
        return _read_file(root_fd, _undisplay(name), max_bytes)


def _read_file(root_fd: int, name: str, max_bytes: int) -> bytes:
    parts = check_name(name)
    parent = _open_parent(root_fd, parts)
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
        fd = os.open(parts[-1], flags, dir_fd=parent)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SandboxError(f"{name!r} is a symbolic link; refusing to follow it") from e
        if e.errno == errno.ENOENT:
            raise MissingFileError(f"no file {name!r} in the workspace") from e
        raise SandboxError(f"cannot read {name!r}: {e.strerror}") from e
    finally:
        os.close(parent)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SandboxError(f"{name!r} is not a regular file")
        if st.st_size > max_bytes:
            raise SandboxError(f"{name!r} has {st.st_size} bytes, more than {max_bytes}")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise SandboxError(f"{name!r} grew beyond {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_file(root_fd: int, name: str, data: bytes, uid: int | None) -> None:
    parts = check_name(name)
    parent = _open_parent(root_fd, parts)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(parts[-1], flags, 0o644, dir_fd=parent)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SandboxError(f"{name!r} is a symbolic link in the workspace") from e
        raise SandboxError(f"cannot write {name!r}: {e.strerror}") from e
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SandboxError(f"{name!r} exists in the workspace and is not a regular file")
        os.ftruncate(fd, 0)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if uid is not None and os.geteuid() == 0:
            os.fchown(fd, uid, uid)
    except OSError as e:
        raise SandboxError(f"cannot write {name!r}: {e.strerror}") from e
    finally:
        os.close(fd)


def snapshot(root_fd: int) -> Snapshot:
    """Regular files under the workspace: relative path -> (size, mtime_ns, inode)."""
    found: Snapshot = {}

    def walk(fd: int, prefix: str, depth: int) -> None:
        with os.scandir(fd) as entries:
            for entry in entries:
                if len(found) >= MAX_LISTED:
                    return
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                rel = prefix + entry.name
                if stat.S_ISREG(st.st_mode):
                    found[rel] = (st.st_size, st.st_mtime_ns, st.st_ino)
                elif stat.S_ISDIR(st.st_mode) and depth < MAX_DEPTH:
                    try:
                        sub = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                    except OSError:
                        continue
                    try:
                        walk(sub, rel + "/", depth + 1)
                    finally:
                        os.close(sub)

    try:
        walk(root_fd, "", 0)
    except OSError:
        pass
    return found


def display_name(name: str) -> str:
    """A name that is not UTF-8 is shown with \\xNN escapes (JSON cannot carry it as is);
    read_file maps such a name back."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _undisplay(name: str) -> str:
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(0xDC00 + int(m.group(1), 16)), name)


def infos(snap: Snapshot, names: list[str] | None = None) -> list[FileInfo]:
    keys = sorted(snap) if names is None else names
    return [FileInfo(name=display_name(k), size=snap[k][0], mime_type=mime_type(k)) for k in keys]


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(k for k, v in after.items() if before.get(k) != v)
