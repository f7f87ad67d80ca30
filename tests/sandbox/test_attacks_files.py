"""Attacks on the host's files and secrets: reading host files (directly, through /proc, pandas,
numpy), host environment secrets, writing outside the workspace, symlink/hardlink tricks, FIFOs
and other special files the host might open."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(90)

SECRET_ENV = ("OPENAI_API_KEY", "GEMINI_API_KEY", "ANTHROPIC_API_KEY", "AWS_SECRET_ACCESS_KEY")


@pytest.fixture
def host_victim(tmp_path: Path, secret: str) -> Iterator[dict[str, Any]]:
    """A host process holding secrets: in its environment, its cwd, and an open fd."""
    secret_file = tmp_path / "host_secret.csv"
    secret_file.write_text(f"name,value\nkey,{secret}\n")
    env = {**os.environ, **dict.fromkeys(SECRET_ENV, secret)}
    proc = subprocess.Popen(
        [sys.executable, "-c", f"import time; f = open({str(secret_file)!r}); time.sleep(120)"],
        env=env,
        cwd=tmp_path,
    )
    try:
        yield {"pid": proc.pid, "file": str(secret_file), "dir": str(tmp_path)}
        assert proc.poll() is None, "the host victim process died"
    finally:
        proc.kill()
        proc.wait()


READ_ALL = """
import glob
report = {}
def grab(path, reader=None):
    try:
        if reader is not None:
            report[path] = str(reader(path))[:4000]
        elif os.path.isdir(path):
            report[path] = sorted(os.listdir(path))[:200]
        else:  # non-blocking: a pipe reached through /proc/*/fd must not hang the attack
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                report[path] = os.read(fd, 4000).decode('utf-8', 'replace')
            finally:
                os.close(fd)
    except BaseException as e:
        report[path] = 'ERR ' + type(e).__name__ + ': ' + str(e)[:200]
"""


def test_read_host_files(
    sandbox: Any, kit: Any, token: str, secret: str, host_victim: dict[str, Any], repo_root: Path
) -> None:
    pid, secret_file = host_victim["pid"], host_victim["file"]
    me = os.getpid()
    targets = [
        "/etc/shadow",
        "/root",
        "/root/.bash_history",
        str(repo_root / "README.md"),
        str(repo_root / "pyproject.toml"),
        str(repo_root),
        "/work/notes/COMMON.md",
        "/work",
        secret_file,
        host_victim["dir"],
        "/proc/1/environ",
        "/proc/1/cmdline",
        f"/proc/{me}/environ",
        f"/proc/{me}/cmdline",
        f"/proc/{pid}/environ",
        f"/proc/{pid}/cwd/host_secret.csv",
        f"/proc/{pid}/root{secret_file}",
        f"/proc/{pid}/fd/3",
        f"/proc/{me}/root{secret_file}",
        "/proc/kcore",
        "/sys/kernel/security",
    ]
    code = (
        kit.tag_code(token)
        + READ_ALL
        + f"for p in {targets!r}:\n    grab(p)\n"
        + "for p in glob.glob('/proc/[0-9]*/environ') + glob.glob('/proc/[0-9]*/fd/*'):\n"
        + "    grab(p)\n"
        + kit.report_code()
    )
    r = sandbox.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    rep = kit.parse_report(r.stdout)
    text = kit.result_text(r)
    assert secret not in text
    for env_name in SECRET_ENV:
        assert f"{env_name}=sk-" not in text
    shadow = Path("/etc/shadow").read_text() if os.access("/etc/shadow", os.R_OK) else ""
    for line in shadow.splitlines():
        if line.split(":")[1:2] not in ([""], ["*"], ["!"], ["!*"], ["x"]):
            assert line not in text, "a password hash from the host's /etc/shadow leaked"
    readme = (repo_root / "README.md").read_text()
    assert readme[:200] not in text, "the repo's README is readable from the sandbox"
    assert "Rules for every helper" not in text, "/work/notes is readable from the sandbox"
    listing = rep.get(str(repo_root))
    if isinstance(listing, list):  # only the mount points of what the sandbox needs
        assert not {"README.md", "pyproject.toml", ".git", "tests"} & set(listing), listing


def test_read_host_files_through_libraries(
    sandbox: Any, kit: Any, token: str, secret: str, host_victim: dict[str, Any]
) -> None:
    path = host_victim["file"]
    pid = host_victim["pid"]
    code = (
        kit.tag_code(token)
        + READ_ALL
        + "import numpy as np, pandas as pd\n"
        + f"for p in ({path!r}, '/proc/{pid}/cwd/host_secret.csv', '/proc/{pid}/fd/3'):\n"
        + "    grab(p, pd.read_csv)\n"
        + "    grab(p + ' ', lambda q: np.fromfile(q.strip(), dtype=np.uint8).tobytes())\n"
        + "    grab(p + '  ', lambda q: np.loadtxt(q.strip(), dtype=str, delimiter=','))\n"
        + "    grab(p + '   ', lambda q: pd.read_table('file://' + q.strip()))\n"
        + kit.report_code()
    )
    r = sandbox.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    kit.parse_report(r.stdout)
    assert secret not in kit.result_text(r)


def test_host_env_secrets_not_inherited(
    make_sandbox: Any, kit: Any, token: str, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRET_ENV:
        monkeypatch.setenv(name, secret)
    sb = make_sandbox()
    code = (
        kit.tag_code(token)
        + READ_ALL
        + "report['environ'] = dict(os.environ)\n"
        + "for p in ['/proc/self/environ', '/proc/self/cmdline'] + glob.glob('/proc/*/environ'):\n"
        + "    grab(p)\n"
        + "try:\n    report['ppid'] = os.getppid()\n    grab(f'/proc/{os.getppid()}/environ')\n"
        + "except Exception:\n    pass\n"
        + kit.report_code()
    )
    r = sb.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    rep = kit.parse_report(r.stdout)
    assert secret not in kit.result_text(r)
    assert not set(SECRET_ENV) & set(rep["environ"])


def test_cli_supervisor_environ_not_readable(
    kit: Any, token: str, secret: str, repo_root: Path, sandbox_mod: Any, procs: Any
) -> None:
    """`python -m sandbox run` started with secrets in its own (initial) environment."""
    env = {**os.environ, **dict.fromkeys(SECRET_ENV, secret)}
    code = (
        kit.tag_code(token)
        + READ_ALL
        + "pid = os.getpid()\n"
        + "for _ in range(6):\n"
        + "    grab(f'/proc/{pid}/environ')\n"
        + "    try:\n"
        + "        pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        + "    except Exception:\n"
        + "        break\n"
        + "for p in glob.glob('/proc/[0-9]*/environ'):\n    grab(p)\n"
        + "report['environ'] = dict(os.environ)\n"
        + "report['uid'] = os.getuid()\n"
        + kit.report_code()
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", "run", "--json", "-c", code, "--timeout", "10"],
        capture_output=True,
        text=True,
        env=env,
        cwd=repo_root,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert secret not in proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["verdict"] == "ok", out
    procs.add_uid(kit.parse_report(out["stdout"])["uid"])
    assert procs.wait_all_gone() == [], "the CLI left sandbox processes behind"


def test_write_outside_workspace(
    sandbox: Any, kit: Any, token: str, tmp_path: Path, repo_root: Path
) -> None:
    site = next(p for p in sys.path if p.endswith("site-packages"))
    new_files = [
        f"/tmp/{token}",
        str(tmp_path / token),
        f"/work/{token}",
        str(repo_root / token),
        str(repo_root / "sandbox" / f"{token}.py"),
        f"{site}/{token}.pth",
        f"{site}/{token}.py",
        f"{sys.prefix}/{token}",
        f"/root/{token}",
        f"/etc/{token}",
        f"/dev/shm/{token}",
        f"/var/tmp/{token}",
        f"/usr/lib/{token}",
        os.path.expanduser(f"~/.cache/codexec/matplotlib/{token}.json"),  # shared font cache
    ]
    existing = [
        str(repo_root / "pyproject.toml"),
        str(repo_root / "allowed_libs.txt"),
        os.path.join(site, "tabulate", "__init__.py"),
        sys.executable,
        "/etc/hosts",
        "/etc/passwd",
        *glob.glob(os.path.expanduser("~/.cache/codexec/matplotlib/*.json")),
    ]
    existing = [p for p in existing if os.path.exists(p)]
    code = (
        kit.tag_code(token)
        + "report = {}\n"
        + f"for p in {new_files!r}:\n"
        + "    try:\n"
        + "        with open(p, 'w') as f:\n"
        + f"            f.write({token!r})\n"
        + "        report[p] = 'created'\n"
        + "    except OSError as e:\n"
        + "        report[p] = 'ERR ' + str(e)\n"
        + f"for p in {existing!r}:\n"  # open for writing without writing anything
        + "    try:\n"
        + "        open(p, 'r+b').close()\n"
        + "        report[p] = 'WRITABLE'\n"
        + "    except OSError as e:\n"
        + "        report[p] = 'ERR ' + str(e)\n"
        + kit.report_code()
    )
    r = sandbox.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    rep = kit.parse_report(r.stdout)
    leaked = [p for p in new_files if os.path.exists(p)]
    for p in leaked:  # clean up before failing, so one weakness does not poison other tests
        os.unlink(p)
    assert not leaked, f"the sandbox created host files: {leaked}"
    writable = [p for p in existing if rep.get(p) == "WRITABLE"]
    assert not writable, f"host files writable from the sandbox: {writable}"


def test_symlink_read_by_host(
    sandbox: Any, sandbox_mod: Any, kit: Any, token: str, secret: str, host_victim: dict[str, Any]
) -> None:
    code = (
        kit.tag_code(token)
        + "links = {'passwd.txt': '/etc/passwd', 'secret.csv': "
        + repr(host_victim["file"])
        + ", 'rootdir': '/', 'zero.bin': '/dev/zero', 'self_env.txt': '/proc/self/environ'}\n"
        + "for name, target in links.items():\n"
        + "    os.symlink(target, name)\n"
        + "print('planted')\n"
    )
    r = sandbox.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    assert secret not in kit.result_text(r)
    passwd = Path("/etc/passwd").read_bytes()
    for name in ("passwd.txt", "secret.csv", "rootdir/etc/passwd", "zero.bin", "self_env.txt"):
        try:
            data = sandbox.read_file(name)
        except sandbox_mod.SandboxError:
            continue
        pytest.fail(f"read_file({name!r}) followed a planted symlink: {data[:80]!r}")
    listed = sandbox.list_files()
    sizes = {f.name: f.size for f in listed}
    assert sizes.get("passwd.txt") != len(passwd), "list_files stat()s through symlinks"
    assert secret not in json.dumps([f.model_dump() for f in listed])


def test_symlink_write_through(
    sandbox: Any, sandbox_mod: Any, kit: Any, token: str, tmp_path: Path, secret: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir()
    src = tmp_path / "input.csv"
    src.write_text("a,b\n1,2\n")
    plant = (
        kit.tag_code(token)
        + f"os.symlink({str(victim)!r}, 'out.txt')\n"
        + f"os.symlink({str(victim)!r}, 'notes.txt')\n"
        + f"os.symlink({str(victim)!r}, 'input.csv')\n"
        + f"os.symlink({str(victim_dir)!r}, 'hostdir')\n"
    )
    assert sandbox.run(plant).verdict == "ok"
    # the session writes through its own links (the kernel resolves them inside the sandbox)
    write = (
        "for p in ('out.txt', 'hostdir/dropped.txt'):\n"
        "    try:\n"
        f"        open(p, 'w').write({secret!r})\n"
        "    except OSError as e:\n"
        "        print('ERR', e)\n"
    )
    sandbox.run(write)
    # the host writes files whose names the session turned into links
    for action in (
        lambda: sandbox.put_file("notes.txt", secret.encode()),
        lambda: sandbox.put_file("hostdir/put.txt", secret.encode()),
        lambda: sandbox.add_file(str(src)),
    ):
        try:
            action()
        except sandbox_mod.SandboxError:
            pass
    assert not victim.exists(), f"a write went through a planted symlink: {victim.read_text()!r}"
    assert os.listdir(victim_dir) == []


def test_hardlink_to_host_file(
    sandbox: Any, sandbox_mod: Any, kit: Any, token: str, secret: str, host_victim: dict[str, Any]
) -> None:
    code = (
        kit.tag_code(token)
        + "report = {}\n"
        + f"for i, p in enumerate(({host_victim['file']!r}, '/etc/shadow', '/etc/passwd')):\n"
        + "    try:\n"
        + "        os.link(p, f'hl{i}')\n"
        + "        report[p] = 'linked'\n"
        + "    except OSError as e:\n"
        + "        report[p] = str(e)\n"
        + kit.report_code()
    )
    r = sandbox.run(code)
    kit.parse_report(r.stdout)
    for i in range(3):
        try:
            data = sandbox.read_file(f"hl{i}")
        except sandbox_mod.SandboxError:
            continue
        assert secret.encode() not in data
        assert b"root:" not in data or i == 2


def _finishes(fn: Callable[[], Any], timeout_s: float = 10.0) -> tuple[bool, Any]:
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(fn())
        except BaseException as exc:
            box.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout_s)
    return (not t.is_alive()), (box[0] if box else None)


def test_fifo_and_special_files_do_not_hang_the_host(
    make_sandbox: Any, sandbox_mod: Any, kit: Any, token: str
) -> None:
    sb = make_sandbox(max_file_mb=200, max_read_file_mb=1)
    code = (
        kit.tag_code(token)
        + "import socket\n"
        + "os.mkfifo('data.csv')\n"
        + "os.mkfifo('upload.txt')\n"
        + "s = socket.socket(socket.AF_UNIX)\ns.bind('sock')\n"
        + "with open('sparse.bin', 'wb') as f:\n    f.truncate(150 << 20)\n"
        + "print('planted')\n"
    )
    done, r = _finishes(lambda: sb.run(code), 20)
    assert done, "run() hung on planted special files"
    assert r.verdict in ("ok", "runtime_error", "import_blocked"), r
    done, listed = _finishes(sb.list_files)
    assert done, "list_files() hung on a FIFO"
    names = [f.name for f in listed]
    assert "data.csv" not in names and "sock" not in names, names
    for name in ("data.csv", "sock", "sparse.bin"):
        done, out = _finishes(lambda n=name: sb.read_file(n))
        assert done, f"read_file({name!r}) hung"
        assert isinstance(out, sandbox_mod.SandboxError), f"read_file({name!r}) returned {out!r}"
    done, out = _finishes(lambda: sb.put_file("upload.txt", b"hello"))
    assert done, "put_file() onto a planted FIFO hung"


def test_cross_session_isolation(make_sandbox: Any, kit: Any, token: str, secret: str) -> None:
    """One user's session must not see another's workspace, /tmp, memory or processes."""
    victim, attacker = make_sandbox(), make_sandbox()
    plant = (
        kit.tag_code(token)
        + f"SECRET = {secret!r}\n"
        + "open('private.txt', 'w').write(SECRET)\n"
        + f"open('/tmp/{token}.txt', 'w').write(SECRET)\n"
        + "print(os.getcwd())\n"
    )
    r = victim.run(plant)
    assert r.verdict == "ok", (r.verdict, r.error)
    victim_ws = r.stdout.strip()
    code = (
        kit.tag_code(token)
        + READ_ALL
        + "report['found'] = []\n"
        + f"roots = ['/', '/workspaces', '/tmp', '/proc', {victim_ws!r}, "
        + f"os.path.dirname({victim_ws!r}), '/dev/shm']\n"
        + "for top in roots:\n"
        + "    for root, dirs, files in os.walk(top):\n"
        + "        if root.startswith(('/proc/sys', '/sys', '/usr', '/lib')) or root.count('/') > 6:\n"
        + "            dirs[:] = []\n"
        + "            continue\n"
        + "        for f in files:\n"
        + "            if f.endswith('.txt') or f in ('environ', 'cmdline'):\n"
        + "                grab(os.path.join(root, f))\n"
        + kit.report_code()
    )
    r2 = attacker.run(code, timeout_s=20)
    assert r2.verdict == "ok", (r2.verdict, r2.error)
    assert secret not in kit.result_text(r2), "one session read another session's data"
    # the victim's data is still there for the victim
    assert victim.read_file("private.txt") == secret.encode()


@pytest.mark.parametrize(
    "name",
    ["../escape.txt", "/tmp/escape.txt", "a/../../escape.txt", "..", ".", "", "x\0y", "a/./b"],
)
def test_host_api_file_names_cannot_escape(
    sandbox: Any, sandbox_mod: Any, tmp_path: Path, name: str
) -> None:
    """File names come from remote clients (HTTP inlineData): they must stay in the workspace."""
    before = set(os.listdir(tmp_path.parent)) | set(os.listdir("/tmp"))
    with pytest.raises(sandbox_mod.SandboxError):
        sandbox.put_file(name, b"escaped")
    with pytest.raises(sandbox_mod.SandboxError):
        sandbox.read_file(name if name != "." else "../etc/passwd")
    after = set(os.listdir(tmp_path.parent)) | set(os.listdir("/tmp"))
    assert "escape.txt" not in after - before


def test_cross_session_unix_sockets(make_sandbox: Any, kit: Any, token: str) -> None:
    """AF_UNIX stays allowed (libraries need socketpair); abstract names must not connect two
    sessions (each has its own network namespace)."""
    a, b = make_sandbox(), make_sandbox()
    get_socket = "import sys\nsocket = sys.modules['socket']\n"
    listen = get_socket + (
        f"srv = socket.socket(socket.AF_UNIX)\nsrv.bind('\\0{token}')\nsrv.listen(1)\nprint('up')\n"
    )
    r = a.run(kit.tag_code(token) + listen)
    assert r.verdict == "ok" and "up" in r.stdout, (r.verdict, r.error)
    connect = get_socket + (
        "c = socket.socket(socket.AF_UNIX)\nc.settimeout(1)\n"
        f"try:\n    c.connect('\\0{token}')\n    print('CONNECTED')\n"
        "except OSError as e:\n    print('refused', e.errno)\n"
    )
    r2 = b.run(kit.tag_code(token) + connect)
    assert r2.verdict == "ok", (r2.verdict, r2.error)
    assert "CONNECTED" not in r2.stdout, "two sessions share a network namespace"


def test_other_sessions_workspaces_not_even_visible(
    make_sandbox: Any, kit: Any, token: str
) -> None:
    """Defence in depth: besides permissions, a session should not see the other sessions'
    workspace mounts at all (their names reveal how many sessions run, and any permission
    slip would expose their files)."""
    a, b = make_sandbox(), make_sandbox()
    ra = a.run("import os\nprint(os.stat('.').st_ino, os.stat('.').st_dev)")
    assert ra.verdict == "ok", (ra.verdict, ra.error)
    code = (
        kit.tag_code(token)
        + "mounts = [line.split()[4] for line in open('/proc/self/mountinfo')]\n"
        + "try:\n    listing = sorted(os.listdir('/workspaces'))\n"
        + "except OSError:\n    listing = []\n"
        + "report = {'mounts': mounts, 'workspaces': listing}\n"
        + kit.report_code()
    )
    r = b.run(code)
    assert r.verdict == "ok", (r.verdict, r.error)
    rep = kit.parse_report(r.stdout)
    foreign = [m for m in rep["mounts"] if m.startswith("/workspaces/")]
    assert len(foreign) <= 1 and len(rep["workspaces"]) <= 1, rep
