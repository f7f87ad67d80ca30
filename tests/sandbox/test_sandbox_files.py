"""Files in and out of the workspace; the host never follows planted symlinks or FIFOs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import FileInfo, Limits, Sandbox, SandboxError


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(limits=Limits(max_input_file_mb=1, max_read_file_mb=1)) as box:
        yield box


def test_add_file_and_read_it_inside(sb: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,2\n3,4\n")
    info = sb.add_file(src)
    assert info == FileInfo(name="data.csv", size=12, mime_type="text/csv")
    r = sb.run("import pandas as pd\nprint(pd.read_csv('data.csv')['b'].sum())")
    assert (r.verdict, r.stdout) == ("ok", "6\n")
    assert r.files == []  # unchanged input files are not reported


def test_put_file_and_created_files_are_listed(sb: Sandbox) -> None:
    sb.put_file("notes.txt", "hello")
    code = (
        "import json, os\nos.makedirs('out', exist_ok=True)\n"
        "open('out/r.json', 'w').write(json.dumps({'k': 1}))\n"
        "open('notes.txt', 'a').write(' world')\nprint(open('notes.txt').read())"
    )
    r = sb.run(code)
    assert (r.verdict, r.stdout) == ("ok", "hello world\n")
    assert r.files == [
        FileInfo(name="notes.txt", size=11, mime_type="text/plain"),
        FileInfo(name="out/r.json", size=8, mime_type="application/json"),
    ]
    assert {f.name for f in sb.list_files()} == {"notes.txt", "out/r.json"}
    assert sb.read_file("out/r.json") == b'{"k": 1}'


def test_files_persist_after_a_timeout(sb: Sandbox) -> None:
    sb.run("open('keep.txt', 'w').write('kept')")
    assert sb.run("import time\ntime.sleep(5)", timeout_s=0.5).verdict == "timeout"
    r = sb.run("print(open('keep.txt').read())")
    assert r.stdout == "kept\n"


def test_read_file_refuses_planted_symlink(sb: Sandbox) -> None:
    r = sb.run("import os\nos.symlink('/etc/passwd', 'leak.txt')\nos.symlink('/etc', 'etcdir')")
    assert r.verdict == "ok"
    with pytest.raises(SandboxError, match="symbolic link"):
        sb.read_file("leak.txt")
    with pytest.raises(SandboxError):
        sb.read_file("etcdir/passwd")
    assert "leak.txt" not in {f.name for f in sb.list_files()}


def test_read_file_refuses_fifo_without_hanging(sb: Sandbox) -> None:
    assert sb.run("import os\nos.mkfifo('pipe')").verdict == "ok"
    outcome: list[object] = []

    def read() -> None:
        try:
            sb.read_file("pipe")
        except SandboxError as e:
            outcome.append(e)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "read_file hung on a FIFO"
    assert outcome and "not a regular file" in str(outcome[0])


def test_put_file_does_not_write_through_a_symlink(sb: Sandbox) -> None:
    assert sb.run("import os\nos.symlink('/tmp/victim', 'in.txt')").verdict == "ok"
    with pytest.raises(SandboxError, match="symbolic link"):
        sb.put_file("in.txt", b"x")


def test_bad_input_files(sb: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="No such file"):
        sb.add_file(tmp_path / "missing.csv")
    big = tmp_path / "big.bin"
    big.write_bytes(b"0" * (1024 * 1024 + 1))
    with pytest.raises(SandboxError, match="limit"):
        sb.add_file(big)
    with pytest.raises(SandboxError):
        sb.add_file(tmp_path)  # a directory
    for name in ("../x", "/etc/x", "", "a/../../b"):
        with pytest.raises(SandboxError):
            sb.put_file(name, b"x")
    with pytest.raises(SandboxError, match="no file"):
        sb.read_file("nope.txt")


def test_read_file_size_limit(sb: Sandbox) -> None:
    sb.run("open('huge.bin', 'wb').write(b'0' * (2 * 1024 * 1024))")
    with pytest.raises(SandboxError, match="bytes"):
        sb.read_file("huge.bin")
