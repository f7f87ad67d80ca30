"""The import allowlist's policy (unit level; the in-sandbox behaviour is in test_sandbox_session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.jail.allowlist import DEFAULT_LIBS, IMPLIED, is_allowed, load_allowed_libs

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = frozenset(load_allowed_libs(str(ROOT / "allowed_libs.txt"))) | frozenset(IMPLIED)


def test_default_copy_matches_allowed_libs_txt() -> None:
    assert sorted(DEFAULT_LIBS) == sorted(load_allowed_libs(str(ROOT / "allowed_libs.txt")))


@pytest.mark.parametrize(
    "name",
    ["numpy", "pandas.core", "sklearn.linear_model", "cv2", "math", "json", "os.path",
     "collections.abc", "urllib.parse", "asyncio", "mpl_toolkits.mplot3d", "itertools"],
)  # fmt: skip
def test_allowed(name: str) -> None:
    assert is_allowed(name, ALLOWED)


@pytest.mark.parametrize(
    "name",
    ["subprocess", "socket", "ctypes", "multiprocessing.pool", "importlib", "urllib.request",
     "http.client", "pip", "requests", "torch", "pty", "signal", "_posixsubprocess"],
)  # fmt: skip
def test_blocked(name: str) -> None:
    assert not is_allowed(name, ALLOWED)
