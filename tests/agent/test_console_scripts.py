"""The console scripts pyproject installs: `codexec` (python -m agent) and `codexec-sandbox`
(python -m sandbox), run from the venv's bin as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent  # the venv's bin, where pip put the scripts


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("codexec", ["solve", "serve", "mcp"]),
        ("codexec-sandbox", ["run", "sandbox"]),
    ],
)
def test_console_script_help(script: str, words: list[str]) -> None:
    path = BIN / script
    if not path.exists():
        pytest.fail(f"{path} is missing: reinstall with `pip install -e . --no-deps`")
    proc = subprocess.run(
        [str(path), "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {script} "), proc.stdout  # named as it was run
    for word in words:
        assert word in proc.stdout, (word, proc.stdout)
    assert "Traceback" not in proc.stderr


def test_codexec_dispatches_subcommands() -> None:
    """`codexec serve --help` reaches the server's own parser, as `python -m agent serve` does."""
    proc = subprocess.run(
        [str(BIN / "codexec"), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--port" in proc.stdout and proc.stdout.startswith("usage: codexec serve "), proc.stdout
