"""Escapes: around the import allowlist, ctypes, the network, pip, signals to host processes,
setuid binaries and privileges. The import allowlist is not the security boundary: where an
attacker gets hold of `os`, `socket` or `ctypes` anyway, the operating system must still stop
the harm (nothing written on the host, nothing received by host servers, no host process hurt)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess",
        "import socket",
        "import ctypes",
        "import pip",
        "import importlib\nimportlib.import_module('subprocess')",
        "__import__('socket')",
        "exec('import ctypes')",
        "import builtins\nbuiltins.__import__('subprocess')",
        "b = __builtins__\nimp = b['__import__'] if isinstance(b, dict) else b.__import__\n"
        "imp('subprocess')",
        "import importlib.util\nspec = importlib.util.find_spec('subprocess')\n"
        "m = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(m)",
        "import importlib\nimportlib.__import__('ctypes')",
        "import sys\nsys.modules.pop('subprocess', None)\nimport subprocess",
    ],
    ids=[
        "import-subprocess",
        "import-socket",
        "import-ctypes",
        "import-pip",
        "importlib.import_module",
        "__import__",
        "exec-import",
        "builtins.__import__",
        "__builtins__-dict",
        "find_spec-exec_module",
        "importlib.__import__",
        "sys.modules-pop",
    ],
)
def test_import_allowlist(sandbox: Any, code: str) -> None:
    r = sandbox.run(code)
    assert r.verdict == "import_blocked", (r.verdict, r.error)
    assert r.error is not None and r.error.name in ("ImportError", "ModuleNotFoundError")
    assert "numpy" in r.error.message, "the message should list the allowed modules"


# Each escape tries to get `os.system` or a socket class without importing a blocked module,
# then does harm: a host marker file and a connection to a host server.
ESCAPES = {
    "subclasses-wrap_close": (
        "w = [c for c in ().__class__.__mro__[1].__subclasses__() if c.__name__ == '_wrap_close']\n"
        "system = w[0].__init__.__globals__['system']\n"
    ),
    "subclasses-catch_warnings": (
        "cw = [c for c in object.__subclasses__() if c.__name__ == 'catch_warnings'][0]\n"
        "system = cw()._module.__builtins__['__import__']('os').system\n"
    ),
    "random._os": "import random\nsystem = random._os.system\n",
    "sys.modules": "import sys\nsystem = sys.modules['os'].system\n",
    "library-globals": "import matplotlib\nsystem = matplotlib.os.system\n",
    "func-globals": "import json\nsystem = json.load.__globals__['__builtins__']['__import__']('os').system\n",
    "frame-walk": (
        "import sys\nf = sys._getframe()\n"
        "while f.f_back is not None:\n    f = f.f_back\n"
        "system = f.f_globals['__builtins__']['__import__']('os').system "
        "if isinstance(f.f_globals['__builtins__'], dict) "
        "else f.f_globals['__builtins__'].__import__('os').system\n"
    ),
}


@pytest.fixture
def host_server() -> Iterator[dict[str, Any]]:
    """TCP and UDP on 127.0.0.1 and an abstract unix socket, recording whatever reaches them."""
    got: list[str] = []
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    abstract_name = f"\0codexec-attack-{os.getpid()}-{time.monotonic_ns()}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(abstract_name)
    unix.listen(16)
    stop = threading.Event()

    def serve(sock: socket.socket, kind: str) -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                if kind == "udp":
                    data, _ = sock.recvfrom(65536)
                    got.append(f"udp:{data[:50]!r}")
                else:
                    conn, _ = sock.accept()
                    got.append(kind)
                    conn.close()
            except OSError:
                continue

    threads = [
        threading.Thread(target=serve, args=(s, k), daemon=True)
        for s, k in ((tcp, "tcp"), (udp, "udp"), (unix, "unix"))
    ]
    for t in threads:
        t.start()
    yield {
        "tcp_port": tcp.getsockname()[1],
        "udp_port": udp.getsockname()[1],
        "abstract": abstract_name,
        "got": got,
    }
    stop.set()
    for t in threads:
        t.join(2)
    for s in (tcp, udp, unix):
        s.close()


@pytest.mark.parametrize("escape", list(ESCAPES), ids=list(ESCAPES))
def test_escape_then_shell(
    sandbox: Any, kit: Any, token: str, tmp_path: Path, host_server: dict[str, Any], escape: str
) -> None:
    marker = tmp_path / f"{token}-shell"
    port = host_server["tcp_port"]
    cmd = (
        f"echo pwned > {marker}; echo pwned > /tmp/{token}-shell; "
        f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 1)\"; "
        f"exec 3<>/dev/tcp/127.0.0.1/{port}"
    )
    code = (
        "report = {}\ntry:\n"
        + "".join("    " + line + "\n" for line in ESCAPES[escape].splitlines())
        + "    report['got_system'] = True\n"
        + f"    report['rc'] = system({cmd!r})\n"
        + "except BaseException as e:\n"
        + "    report['error'] = type(e).__name__ + ': ' + str(e)\n"
        + kit.report_code()
    )
    r = sandbox.run(code)
    assert r.verdict in ("ok", "import_blocked"), (r.verdict, r.error)
    assert not marker.exists(), "the sandbox wrote a host file through a shell"
    assert not Path(f"/tmp/{token}-shell").exists(), "the sandbox wrote the host's /tmp"
    assert host_server["got"] == [], f"a host server was reached: {host_server['got']}"


GET_SOCKET = """
import sys, types
sock_cls = None
try:
    import socket as _s
    sock_cls = _s.socket
except ImportError:
    for c in object.__subclasses__():
        if c.__name__ == 'socket' and c.__module__ in ('_socket', 'socket'):
            sock_cls = c
    for m in list(sys.modules.values()):
        s = getattr(m, 'socket', None)
        if isinstance(s, types.ModuleType):
            sock_cls = s.socket
            break
"""


def test_network(
    sandbox: Any, kit: Any, token: str, host_server: dict[str, Any], tmp_path: Path
) -> None:
    tcp, udp, abstract = host_server["tcp_port"], host_server["udp_port"], host_server["abstract"]
    code = (
        kit.tag_code(token)
        + GET_SOCKET
        + "report = {'have_socket': sock_cls is not None}\n"
        + "def attempt(name, fn):\n"
        + "    try:\n"
        + "        report[name] = 'OK ' + repr(fn())[:200]\n"
        + "    except BaseException as e:\n"
        + "        report[name] = 'ERR ' + type(e).__name__ + ': ' + str(e)[:200]\n"
        + "def tcp_connect(host, port, fam=2):\n"
        + "    s = sock_cls(fam, 1)\n    s.settimeout(1)\n    s.connect((host, port))\n"
        + "    s.sendall(b'hello')\n    return 'connected'\n"
        + "def udp_send(host, port):\n"
        + "    s = sock_cls(2, 2)\n    return s.sendto(b'hello', (host, port))\n"
        + "def unix_connect(name):\n"
        + "    s = sock_cls(1, 1)\n    s.settimeout(1)\n    s.connect(name)\n    return 'connected'\n"
        + f"attempt('tcp_loopback', lambda: tcp_connect('127.0.0.1', {tcp}))\n"
        + f"attempt('tcp_v6_loopback', lambda: tcp_connect('::1', {tcp}, 10))\n"
        + f"attempt('udp_loopback', lambda: udp_send('127.0.0.1', {udp}))\n"
        + f"attempt('abstract_unix', lambda: unix_connect({abstract!r}))\n"
        + "attempt('tcp_external', lambda: tcp_connect('1.1.1.1', 53))\n"
        + "attempt('udp_external', lambda: udp_send('8.8.8.8', 53))\n"
        + "attempt('dns', lambda: sys.modules['socket'].getaddrinfo('pypi.org', 443))\n"
        + "import pandas as pd, numpy as np\n"
        + f"attempt('pandas_http', lambda: pd.read_csv('http://127.0.0.1:{tcp}/x.csv'))\n"
        + "attempt('pandas_external', lambda: pd.read_csv('https://pypi.org/simple/pip/'))\n"
        + "attempt('numpy_datasource', lambda: np.lib.npyio.DataSource(None).open("
        + f"'http://127.0.0.1:{tcp}/x.txt').read())\n"
        + kit.report_code()
    )
    r = sandbox.run(code, timeout_s=15)
    assert r.verdict == "ok", (r.verdict, r.error)
    rep = kit.parse_report(r.stdout)
    reached = {k: v for k, v in rep.items() if isinstance(v, str) and v.startswith("OK")}
    assert not reached, f"network reachable from the sandbox: {reached}"
    assert host_server["got"] == [], f"host servers received: {host_server['got']}"


def _get_ctypes_code() -> str:
    return """
ct = None
try:
    import ctypes as ct
except ImportError:
    try:
        import numpy.ctypeslib
        ct = numpy.ctypeslib.ctypes
    except Exception:
        import sys
        ct = sys.modules.get('ctypes')
"""


def test_ctypes_cannot_cross_the_os_boundary(
    sandbox: Any, kit: Any, token: str, tmp_path: Path, host_server: dict[str, Any]
) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        code = (
            kit.tag_code(token)
            + _get_ctypes_code()
            + "report = {'have_ctypes': ct is not None}\n"
            + "if ct is not None:\n"
            + "    libc = ct.CDLL(None, use_errno=True)\n"
            + "    def call(name, *args):\n"
            + "        rc = getattr(libc, name)(*args)\n"
            + "        report[name + str(len(report))] = (rc, ct.get_errno())\n"
            + f"    call('mount', b'none', {str(tmp_path).encode()!r}, b'tmpfs', 0, None)\n"
            + f"    call('ptrace', 16, {sleeper.pid}, 0, 0)\n"  # PTRACE_ATTACH host process
            + f"    call('ptrace', 16, {os.getpid()}, 0, 0)\n"
            + "    call('socket', 2, 1, 0)\n"
            + "    call('socket', 10, 2, 0)\n"
            + "    call('socket', 16, 3, 0)\n"  # netlink
            + "    call('unshare', 0x10000000)\n"  # new user namespace
            + "    call('unshare', 0x40000000)\n"
            + "    call('chroot', b'/tmp')\n"
            + "    if libc.getuid() != 0:\n"  # uid 0 inside a user namespace is no escalation
            + "        call('setuid', 0)\n"
            + "    call('kill', "
            + str(sleeper.pid)
            + ", 9)\n"
            + kit.report_code()
        )
        r = sandbox.run(code)
        assert r.verdict in ("ok", "import_blocked"), (r.verdict, r.error)
        if r.verdict == "import_blocked":
            pytest.skip("ctypes is not reachable at all")
        rep = kit.parse_report(r.stdout)
        if not rep.get("have_ctypes"):
            pytest.skip("ctypes is not reachable at all")
        calls = {k: v for k, v in rep.items() if k != "have_ctypes"}
        succeeded = {k: v for k, v in calls.items() if v[0] != -1}
        assert not succeeded, f"libc calls that worked from the sandbox: {succeeded}"
        assert sleeper.poll() is None, "the sandbox killed a host process through ctypes"
        assert host_server["got"] == []
    finally:
        sleeper.kill()
        sleeper.wait()


def _tiny_wheel_code(name: str) -> str:
    """Code that writes a minimal pure-Python wheel `name` into the workspace."""
    return f"""
import zipfile, base64, hashlib
whl = '{name}-0.1-py3-none-any.whl'
files = {{
    '{name}.py': 'PWNED = True\\n',
    '{name}-0.1.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: {name}\\nVersion: 0.1\\n',
    '{name}-0.1.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: x\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}}
record = []
for fn, txt in files.items():
    d = base64.urlsafe_b64encode(hashlib.sha256(txt.encode()).digest()).rstrip(b'=').decode()
    record.append(f'{{fn}},sha256={{d}},{{len(txt)}}')
record.append('{name}-0.1.dist-info/RECORD,,')
with zipfile.ZipFile(whl, 'w') as z:
    for fn, txt in files.items():
        z.writestr(fn, txt)
    z.writestr('{name}-0.1.dist-info/RECORD', '\\n'.join(record) + '\\n')
"""


def test_pip_install(
    sandbox: Any, kit: Any, token: str, host_server: dict[str, Any], tmp_path: Path
) -> None:
    """pip from inside: in-process (runpy) and as a subprocess, online and from a local wheel."""
    name = f"pwn_{token}"
    site = next(p for p in sys.path if p.endswith("site-packages"))
    code = (
        kit.tag_code(token)
        + _tiny_wheel_code(name)
        + "import sys\nreport = {}\n"
        + "def attempt(key, fn):\n"
        + "    try:\n        report[key] = 'OK ' + repr(fn())[:300]\n"
        + "    except BaseException as e:\n"
        + "        report[key] = 'ERR ' + type(e).__name__ + ': ' + str(e)[:300]\n"
        + "def runpy_pip(*args):\n"
        + "    import runpy\n    sys.argv = ['pip', *args]\n"
        + "    runpy.run_module('pip', run_name='__main__')\n"
        + "attempt('runpy_local', lambda: runpy_pip('install', '--no-index', whl))\n"
        + "attempt('runpy_online', lambda: runpy_pip('install', 'six'))\n"
        + "attempt('system_local', lambda: os.system(f'{sys.executable} -m pip install "
        + "--no-index {whl} 2>&1'))\n"
        + "attempt('system_pip', lambda: os.system('pip install six 2>&1'))\n"
        + "attempt('system_user', lambda: os.system(f'{sys.executable} -m pip install --user "
        + "--no-index {whl} 2>&1'))\n"
        + kit.report_code()
    )
    r = sandbox.run(code, timeout_s=30)
    assert r.verdict in ("ok", "import_blocked", "runtime_error"), (r.verdict, r.error)
    installed = [p for p in os.listdir(site) if token in p]
    user_site = Path.home() / ".local"
    in_user = [str(p) for p in user_site.rglob(f"*{token}*")] if user_site.exists() else []
    assert not installed and not in_user, f"pip installed on the host: {installed + in_user}"
    check = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True)
    assert check.returncode != 0, "the package is importable on the host"
    # nor in a new session
    r2 = sandbox.run(f"import {name}")
    assert r2.verdict in ("import_blocked", "runtime_error"), r2.verdict
    assert host_server["got"] == []


def test_signals_to_host_processes(sandbox: Any, kit: Any, token: str) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    received: list[int] = []
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    try:
        me, victim = os.getpid(), sleeper.pid
        code = (
            kit.tag_code(token)
            + "report = {}\n"
            + f"for pid, sig in (({victim}, signal.SIGKILL), ({victim}, signal.SIGSTOP), "
            + f"({me}, signal.SIGUSR1), ({me}, 0), (1, signal.SIGKILL)):\n"
            + "    try:\n"
            + "        os.kill(pid, sig)\n"
            + "        report[f'{pid}/{sig}'] = 'sent'\n"
            + "    except OSError as e:\n"
            + "        report[f'{pid}/{sig}'] = type(e).__name__\n"
            + kit.report_code()
        )
        r = sandbox.run(code)
        time.sleep(0.3)
        assert sleeper.poll() is None, "the sandbox killed a host process"
        state = kit.proc_status(victim).get("State", "")
        assert not state.startswith("T"), "the sandbox stopped a host process"
        assert received == [], "the sandbox signalled the supervisor"
        assert r.verdict == "ok", (r.verdict, r.error)
        rep = kit.parse_report(r.stdout)
        assert rep[f"{victim}/{int(signal.SIGKILL)}"] != "sent" or sleeper.poll() is None
    finally:
        signal.signal(signal.SIGUSR1, old)
        sleeper.kill()
        sleeper.wait()


def test_setuid_binaries_give_nothing(sandbox: Any, kit: Any, token: str) -> None:
    code = (
        kit.tag_code(token)
        + "import stat\nreport = {'setuid': [], 'uid': os.getuid()}\n"
        + "for d in ('/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/lib'):\n"
        + "    for root, dirs, files in os.walk(d):\n"
        + "        for f in files:\n"
        + "            p = os.path.join(root, f)\n"
        + "            try:\n"
        + "                if os.lstat(p).st_mode & (stat.S_ISUID | stat.S_ISGID):\n"
        + "                    report['setuid'].append(p)\n"
        + "            except OSError:\n"
        + "                pass\n"
        + "report['status'] = {k: v.strip() for k, _, v in (l.partition(':') for l in "
        + "open('/proc/self/status')) if k in ('Uid', 'NoNewPrivs', 'CapEff', 'Seccomp')}\n"
        + "report['runs'] = {}\n"
        + "for p in report['setuid'][:5]:\n"
        + "    report['runs'][p] = os.system(p + ' --help > /dev/null 2>&1; id -u > uid_' "
        + "+ os.path.basename(p))\n"
        + "report['uids'] = {f: open(f).read().strip() for f in os.listdir('.') "
        + "if f.startswith('uid_')}\n"
        + kit.report_code()
    )
    r = sandbox.run(code, timeout_s=15)
    assert r.verdict == "ok", (r.verdict, r.error)
    rep = kit.parse_report(r.stdout)
    assert rep["status"].get("NoNewPrivs") == "1" or not rep["setuid"], rep
    gained = {k: v for k, v in rep["uids"].items() if v != str(rep["uid"])}
    assert not gained, f"setuid binaries changed the uid (was {rep['uid']}): {gained}"


def test_privileges_seen_from_the_host(
    make_sandbox: Any, kit: Any, procs: Any, sandbox_mod: Any
) -> None:
    """The session interpreter, found on the host by its uid: not root, no capabilities,
    no_new_privs, a seccomp filter, in its own pid namespace."""
    sb = make_sandbox()
    r = sb.run(
        "import os\n"
        "print({k: v.strip() for k, _, v in (l.partition(':') for l in "
        "open('/proc/self/status')) if k in ('Uid', 'CapEff', 'NoNewPrivs', 'Seccomp')})\n"
        "print(os.getpid())"
    )
    assert r.verdict == "ok", (r.verdict, r.error)
    if not procs.uids and sandbox_mod.isolation_level() == "userns":
        # the session runs as this test's own user (mapped to 0 inside): nothing to tell apart
        pytest.skip("user-namespace level: the session shares this test's uid; no host view")
    assert procs.uids, "could not learn the session's uid"
    pids = procs.alive()
    assert pids, "could not find the session process on the host by its uid"
    for pid in pids:
        host_view = kit.proc_status(pid)
        uids = host_view["Uid"].split()
        assert "0" not in uids, f"the sandbox runs as root on the host: Uid {uids}"
        assert host_view["NoNewPrivs"] == "1"
        assert host_view["Seccomp"] == "2", "no seccomp filter on the session process"
        assert int(host_view["CapEff"], 16) == 0, f"capabilities: {host_view['CapEff']}"
        assert kit.ns_pid(pid) != pid, "the session shares the host's pid namespace"


SUPERVISOR_SCRIPT = """
import os, sys
from sandbox import Limits, Sandbox
me = os.getpid()
code = (
    "import os, sys\\n"
    "try:\\n    os = __import__('os')\\nexcept ImportError:\\n    os = sys.modules['os']\\n"
    f"for pid in ({me},):\\n"
    "    for sig in (9, 15, 19):\\n"
    "        try:\\n"
    "            os.kill(pid, sig)\\n"
    "            print('sent', pid, sig)\\n"
    "        except OSError as e:\\n"
    "            print(type(e).__name__, pid, sig)\\n"
)
with Sandbox(limits=Limits(timeout_s=5)) as sb:
    r = sb.run(code)
print('SURVIVED', r.verdict, repr(r.stdout))
"""


def test_sigkill_to_the_supervisors_own_pid(repo_root: Path) -> None:
    """A supervisor process passes its own pid to the code, which sends
    SIGKILL/SIGTERM/SIGSTOP to them: the supervisor survives (run in a child process so a
    weakness cannot take pytest down)."""
    proc = subprocess.run(
        [sys.executable, "-c", SUPERVISOR_SCRIPT],
        capture_output=True,
        text=True,
        cwd=repo_root,
        timeout=120,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "SURVIVED ok" in proc.stdout, proc.stdout
    assert "sent" not in proc.stdout.split("SURVIVED", 1)[1], proc.stdout
