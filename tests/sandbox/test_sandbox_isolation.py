"""OS isolation as seen from user code: environment, /proc, network, filesystem, privileges."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import sandbox
from sandbox import Sandbox

SECRET = "sk-codexec-test-secret-5d1f"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    os.environ["OPENAI_API_KEY"] = SECRET
    try:
        with Sandbox() as box:
            yield box
    finally:
        os.environ.pop("OPENAI_API_KEY", None)


@pytest.fixture(scope="module")
def isolated(sb: Sandbox) -> bool:
    return sandbox.isolation_level() != "none"


def test_no_secret_in_environment_or_proc(sb: Sandbox) -> None:
    code = (
        "import os, glob\n"
        "print('OPENAI_API_KEY' in os.environ)\n"
        "seen = ''\n"
        "for p in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n"
        "    try:\n        seen += open(p, 'rb').read().decode('utf-8', 'replace')\n"
        "    except OSError:\n        pass\n"
        f"print({SECRET!r} in seen, 'OPENAI' in seen)\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok", r.error
    assert r.stdout == "False\nFalse False\n"
    assert SECRET not in str(r.to_dict())


def test_only_the_session_processes_are_visible(sb: Sandbox, isolated: bool) -> None:
    if not isolated:
        pytest.skip("no namespaces on this host")
    r = sb.run("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    assert r.stdout == "[1]\n"


def _listen() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(3)
    return server, server.getsockname()[1]


def test_network_is_unreachable(sb: Sandbox, isolated: bool) -> None:
    if not isolated:
        pytest.skip("no network namespace on this host")
    server, port = _listen()
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    code = (
        "import sys, asyncio\nsocket = sys.modules['socket']\n"
        f"for addr in [('127.0.0.1', {port}), ('8.8.8.8', 53), ('1.1.1.1', 443)]:\n"
        "    try:\n"
        "        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
        "        s.settimeout(2)\n        s.connect(addr)\n        print('CONNECTED', addr)\n"
        "    except OSError as e:\n        print('refused', type(e).__name__)\n"
    )
    r = sb.run(code)
    t.join(4)
    server.close()
    assert r.verdict == "ok", r.error
    assert "CONNECTED" not in r.stdout and r.stdout.count("refused") == 3
    assert accepted == []


def test_host_files_are_not_visible(sb: Sandbox, isolated: bool, tmp_path: Path) -> None:
    if not isolated:
        pytest.skip("no mount namespace on this host")
    secret_file = tmp_path / "host-secret.txt"
    secret_file.write_text(SECRET)
    code = (
        "import os\n"
        f"print(os.path.exists({str(secret_file)!r}), os.path.exists('/root/.ssh'))\n"
        "print(os.path.exists('/home'), os.path.exists('/work/main/.git'))\n"
        "print(open('/etc/passwd').read().count(':x:'))\n"
    )
    r = sb.run(code)
    assert r.stdout == "False False\nFalse False\n3\n", r.error


def test_writes_outside_the_workspace_fail(sb: Sandbox, isolated: bool) -> None:
    if not isolated:
        pytest.skip("no mount namespace on this host")
    marker = f"codexec-marker-{os.getpid()}"
    code = (
        "import os\nresults = []\n"
        "for path in ['/usr/x', '/etc/x', '/x', '/work/x']:\n"
        "    try:\n        open(path, 'w')\n        results.append('WROTE ' + path)\n"
        "    except OSError as e:\n        results.append(type(e).__name__)\n"
        f"open('/tmp/{marker}', 'w').write('private tmp')\n"
        "print(results, os.getcwd(), os.environ['HOME'])\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok", r.error
    assert "WROTE" not in r.stdout
    assert r.stdout.endswith("/workspace /workspace\n")
    assert not os.path.exists(f"/tmp/{marker}")


def test_unprivileged(sb: Sandbox, isolated: bool) -> None:
    if not isolated:
        pytest.skip("no namespaces on this host")
    code = (
        "import os\nstatus = open('/proc/self/status').read()\n"
        "print(os.getuid() != 0 or 'CapEff:\\t0000000000000000' in status)\n"
        "print([l.split()[1] for l in status.splitlines() if l.startswith('NoNewPrivs')])\n"
    )
    r = sb.run(code)
    assert r.stdout == "True\n['1']\n"


def test_sessions_cannot_see_each_other(isolated: bool) -> None:
    if not isolated:
        pytest.skip("no namespaces on this host")
    with Sandbox() as a, Sandbox() as b:
        a.run("open('mine.txt', 'w').write('a')\nopen('/tmp/t.txt', 'w').write('a')")
        # /tmp may hold mount points of the host paths the jail needs (a checkout under /tmp)
        r = b.run("import os\nprint(os.listdir('.'), 't.txt' in os.listdir('/tmp'))")
        assert r.stdout == "[] False\n"
