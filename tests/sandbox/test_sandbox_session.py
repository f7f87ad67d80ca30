"""Functional tests of sandbox.Sandbox: sessions, verdicts, tracebacks, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import ErrorInfo, ExecutionResult, Limits, Sandbox, SandboxError


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(limits=Limits(timeout_s=10)) as box:
        yield box


def test_state_persists_across_runs(sb: Sandbox) -> None:
    assert sb.run("import math\nx = 40").verdict == "ok"
    r = sb.run("def f(y):\n    return x + y\nprint(f(2), math.floor(2.5))")
    assert (r.verdict, r.outcome, r.stdout) == ("ok", "OUTCOME_OK", "42 2\n")
    assert r.error is None


def test_a_bare_last_expression_shows_its_value_like_a_notebook(sb: Sandbox) -> None:
    r = sb.run('text = "a b  c"\nlen(text.split())')
    assert (r.verdict, r.stdout) == ("ok", "3\n")
    assert sb.run("{'k': [1, 2]}").stdout == "{'k': [1, 2]}\n"
    assert sb.run("len(text);").stdout == ""  # a trailing ; keeps it quiet
    assert sb.run("print('once')").stdout == "once\n"  # None is not shown
    assert sb.run("n = 5\nn + 1\nn * 2").stdout == "10\n"  # only the last line
    r = sb.run("x = 1\nx / 0")
    assert r.error is not None and r.error.name == "ZeroDivisionError"
    assert 'File "<code>", line 2, in <module>' in r.error.traceback


def test_sessions_do_not_share_state() -> None:
    with Sandbox() as a, Sandbox() as b:
        a.run("secret_value = 1\nimport json\njson.dumps = None")
        r = b.run("import json\nprint(json.dumps([1]))\nprint(secret_value)")
        assert r.stdout == "[1]\n"
        assert r.error is not None and r.error.name == "NameError"


def test_runtime_error_traceback_points_at_user_lines(sb: Sandbox) -> None:
    r = sb.run("def g():\n    return 1 / 0\n\nprint('before')\ng()\n")
    assert (r.verdict, r.outcome) == ("runtime_error", "OUTCOME_FAILED")
    assert r.stdout == "before\n"
    assert r.error == ErrorInfo(
        name="ZeroDivisionError", message="division by zero", traceback=r.error.traceback
    )
    tb = r.error.traceback
    assert 'File "<code>", line 5, in <module>' in tb
    assert 'File "<code>", line 2, in g' in tb
    assert "return 1 / 0" in tb
    assert "sandbox" not in tb and "runner.py" not in tb


def test_error_inside_a_library_keeps_user_frame_first(sb: Sandbox) -> None:
    r = sb.run("import pandas as pd\npd.DataFrame({'a': [1]})['missing']")
    assert r.verdict == "runtime_error" and r.error is not None
    assert r.error.name == "KeyError"
    lines = r.error.traceback.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].startswith('  File "<code>", line 2')
    assert "pandas" in r.error.traceback  # where it failed inside the library stays
    assert "/sandbox/" not in r.error.traceback


def test_user_exception_chain_is_kept(sb: Sandbox) -> None:
    code = "try:\n    {}['k']\nexcept KeyError as e:\n    raise ValueError('bad') from e"
    r = sb.run(code)
    assert r.error is not None and r.error.name == "ValueError"
    assert "KeyError" in r.error.traceback and "direct cause" in r.error.traceback


def test_syntax_error(sb: Sandbox) -> None:
    r = sb.run("x = 1\ndef f(:\n    pass\n")
    assert r.verdict == "runtime_error" and r.error is not None
    assert r.error.name == "SyntaxError"
    assert "line 2" in r.error.message
    assert '"<code>", line 2' in r.error.traceback


def test_empty_code(sb: Sandbox) -> None:
    r = sb.run("")
    assert (r.verdict, r.stdout, r.stderr, r.error, r.figures) == ("ok", "", "", None, [])


def test_non_utf8_output_is_replaced(sb: Sandbox) -> None:
    r = sb.run("import sys\nsys.stdout.buffer.write(b'a\\xff\\xfeb\\n')\nprint('\\udcff')")
    assert r.verdict == "ok"
    assert r.stdout.startswith("a\ufffd\ufffdb\n")


def test_stderr_and_warnings_are_captured(sb: Sandbox) -> None:
    r = sb.run("import sys, warnings\nprint('to err', file=sys.stderr)\nwarnings.warn('careful')")
    assert r.verdict == "ok"
    assert "to err" in r.stderr and "careful" in r.stderr


def test_import_blocked(sb: Sandbox) -> None:
    r = sb.run("import numpy\nimport subprocess")
    assert (r.verdict, r.outcome) == ("import_blocked", "OUTCOME_FAILED")
    assert r.error is not None and r.error.name == "ImportError"
    assert "subprocess" in r.error.message
    for allowed in ("numpy", "pandas", "matplotlib", "sympy"):
        assert allowed in r.error.message
    r = sb.run("from urllib.request import urlopen")
    assert r.verdict == "import_blocked"
    r = sb.run("try:\n    import socket\nexcept ImportError as e:\n    print('caught')")
    assert (r.verdict, r.stdout) == ("ok", "caught\n")


def test_libraries_internal_imports_still_work(sb: Sandbox) -> None:
    # sklearn (not preloaded) imports joblib/multiprocessing internally; urllib.parse is allowed.
    code = (
        "from sklearn.linear_model import LinearRegression\nimport numpy as np\n"
        "from urllib.parse import quote\nimport statsmodels.api as sm\n"
        "m = LinearRegression().fit(np.array([[0], [1], [2]]), np.array([1, 3, 5]))\n"
        "print(round(float(m.coef_[0]), 3), quote('a b'))"
    )
    r = sb.run(code, timeout_s=60)
    assert (r.verdict, r.stdout) == ("ok", "2.0 a%20b\n"), r.error


def test_system_exit(sb: Sandbox) -> None:
    assert sb.run("import sys\nsys.exit(0)").verdict == "ok"
    r = sb.run("raise SystemExit(3)")
    assert r.verdict == "runtime_error" and r.error is not None
    assert r.error.name == "SystemExit"
    assert sb.run("print('still alive')").stdout == "still alive\n"


def test_process_exit_restarts_the_session() -> None:
    with Sandbox() as box:
        box.run("x = 1")
        r = box.run("import os\nos._exit(3)")
        assert r.verdict == "runtime_error" and r.error is not None
        r = box.run("print('x' in globals())")
        assert (r.verdict, r.stdout) == ("ok", "False\n")


def test_memory_error_in_user_code_is_memory_limit(sb: Sandbox) -> None:
    r = sb.run("raise MemoryError('pretend')")
    assert (r.verdict, r.outcome) == ("memory_limit", "OUTCOME_FAILED")


def test_result_json_shape(sb: Sandbox) -> None:
    r = sb.run("print('hi')")
    d = r.to_dict()
    assert list(d) == [
        "outcome", "verdict", "stdout", "stderr", "error", "figures", "files", "duration_s",
    ]  # fmt: skip
    assert isinstance(d["duration_s"], float) and d["duration_s"] >= 0
    assert ExecutionResult.model_validate(d) == r


def test_misuse_raises_sandbox_error() -> None:
    box = Sandbox()
    with pytest.raises(SandboxError):
        box.run(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(SandboxError):
        box.run("print(1)", timeout_s=0)
    box.close()
    box.close()  # idempotent
    assert box.closed
    with pytest.raises(SandboxError):
        box.run("print(1)")
    with pytest.raises(SandboxError):
        box.list_files()
