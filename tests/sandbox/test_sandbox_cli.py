"""`python -m sandbox run`: JSON shape, human output and exit codes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: str | None = None, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", "run", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
    )


def test_json_with_input_file_figure_and_output_file(tmp_path: Path) -> None:
    data = tmp_path / "nums.csv"
    data.write_text("n\n1\n2\n3\n")
    code = (
        "import pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv('nums.csv')\nprint(df['n'].sum())\n"
        "df.plot(); plt.show()\ndf.to_csv('out.csv')\n"
    )
    p = cli("--json", "-c", code, "--file", str(data))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert list(out) == [
        "outcome", "verdict", "stdout", "stderr", "error", "figures", "files", "duration_s",
    ]  # fmt: skip
    assert (out["outcome"], out["verdict"], out["stdout"], out["error"]) == (
        "OUTCOME_OK", "ok", "6\n", None,
    )  # fmt: skip
    assert len(out["figures"]) == 1 and out["figures"][0]["mime_type"] == "image/png"
    assert base64.b64decode(out["figures"][0]["data"]).startswith(b"\x89PNG")
    assert out["files"] == [{"name": "out.csv", "size": 15, "mime_type": "text/csv"}]


def test_failures_still_exit_zero_and_file_argument(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text("print('start')\nimport time\ntime.sleep(5)\n")
    p = cli("--json", "--timeout", "0.5", str(script))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert (out["outcome"], out["verdict"], out["stdout"]) == (
        "OUTCOME_DEADLINE_EXCEEDED", "timeout", "start\n",
    )  # fmt: skip
    assert out["error"]["name"] == "TimeoutError"
    p = cli("-c", "print('hi')\n1/0")
    assert p.returncode == 0
    assert p.stdout.startswith("hi\n")
    assert "ZeroDivisionError" in p.stderr and "runtime_error" in p.stderr


def test_usage_and_input_errors_exit_non_zero(tmp_path: Path) -> None:
    for args in ((), ("-c", "1", "x.py"), ("--timeout", "-1", "-c", "1")):
        p = cli(*args)
        assert p.returncode == 2, args
        assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    for args in (("-c", "1", "--file", str(tmp_path / "missing.csv")), (str(tmp_path / "no.py"),)):
        p = cli(*args)
        assert p.returncode == 1, args
        assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1


def test_user_namespace_mode() -> None:
    """The path a non-root host takes (forced here when running as root)."""
    code = (
        "import os, sys\nprint(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
        "print(os.path.exists('/.host-proc/1'), os.getcwd())\n"
        "caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')]\n"
        "print(caps[0].split()[1])\n"
        "try:\n    sys.modules['socket'].create_connection(('1.1.1.1', 53), timeout=1)\n"
        "except OSError:\n    print('no network')\n"
    )
    p = cli("--json", "-c", code, CODEXEC_SANDBOX_LEVEL="userns")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["verdict"] == "ok", out["error"]
    assert out["stdout"] == "['1']\nFalse /workspace\n0000000000000000\nno network\n"


def test_out_saves_written_files_and_figures(tmp_path: Path) -> None:
    out = tmp_path / "results"
    code = (
        "import os, matplotlib.pyplot as plt\n"
        "open('report.txt', 'w').write('total=6\\n')\n"
        "os.makedirs('sub', exist_ok=True)\nopen('sub/data.bin', 'wb').write(bytes(range(5)))\n"
        "plt.plot([1, 2, 3]); plt.show()\n"
    )
    p = cli("--json", "-c", code, "--out", str(out))
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout)  # stdout stays exactly the JSON object
    assert result["verdict"] == "ok", result["error"]
    assert (out / "report.txt").read_text() == "total=6\n"
    assert (out / "sub" / "data.bin").read_bytes() == bytes(range(5))
    assert (out / "figure_1.png").read_bytes().startswith(b"\x89PNG")
    assert f"[saved {out / 'report.txt'}]" in p.stderr
    # without --out nothing is written anywhere
    p = cli("-c", "open('x.txt', 'w').write('1')")
    assert p.returncode == 0 and "saved" not in p.stderr


def test_out_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("not a dir")
    p = cli("-c", "print(1)", "--out", str(target))
    assert p.returncode == 2
    assert "--out" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert target.read_text() == "not a dir"
