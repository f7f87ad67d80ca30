"""The fixed prompt prefix (system prompt and worked examples), evaluated once and kept on disk.

Reading the ~2,850-token prefix takes a 2-core machine about 90 s; restoring llama.cpp's saved
state of it takes well under a second. A file is keyed by the model's sha256 and a hash of the
prefix's token ids, carries a sha256 of its payload, and is only loaded when all three match, so
a corrupt, truncated or foreign file is refused (and rebuilt), never loaded blindly.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger("codexec.local")

MAGIC = b"CODEXEC-KV-1\n"
MIN_TOKENS = 256  # shorter prefixes are quicker to recompute than to keep
KEEP_FILES = 8  # the newest prefix files kept per cache directory


def state_dir() -> Path:
    """`$CODEXEC_STATE_CACHE`, else a `kv` folder beside the model files."""
    if os.environ.get("CODEXEC_STATE_CACHE"):
        return Path(os.environ["CODEXEC_STATE_CACHE"]).expanduser()
    from agent.weights import cache_dir

    return cache_dir().parent / "kv"


def token_hash(tokens: list[int]) -> str:
    return hashlib.sha256(json.dumps(tokens).encode()).hexdigest()


def ensure_prefix(llm: Any, tokens: list[int], model_sha: str, directory: Path | None) -> str:
    """Make sequence 0 of `llm` start with `tokens`; how: "cached", "restored" or "computed"."""
    if not hasattr(llm, "input_ids") or not hasattr(llm, "_ctx"):
        return "computed"  # not a llama_cpp.Llama (a test double): nothing to keep
    if list(llm.input_ids[: min(llm.n_tokens, len(tokens))]) == tokens and llm.n_tokens >= len(
        tokens
    ):
        return "cached"
    if directory is None or len(tokens) < MIN_TOKENS:
        return "computed"  # the normal prompt evaluation will compute it
    path = directory / f"{model_sha[:16]}-{token_hash(tokens)[:32]}.kv"
    if path.exists():
        try:
            _restore(llm, path, tokens, model_sha)
            return "restored"
        except (OSError, ValueError) as exc:
            log.warning("prefix cache %s refused (%s); rebuilding it", path, exc)
    evaluate_prefix(llm, tokens)
    try:
        _save(llm, path, tokens, model_sha)
    except OSError as exc:  # a read-only or full cache only costs speed
        log.warning("cannot save the prefix cache %s: %s", path, exc)
    return "computed"


def evaluate_prefix(llm: Any, tokens: list[int]) -> None:
    """Sequence 0 holds exactly `tokens` afterwards, reusing the longest cached prefix."""
    import llama_cpp

    keep = 0
    for a, b in zip(llm.input_ids[: llm.n_tokens], tokens, strict=False):
        if a != b:
            break
        keep += 1
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llm._ctx.ctx), 0, keep, -1)
    llm.n_tokens = keep
    llm.eval(tokens[keep:])


def _save(llm: Any, path: Path, tokens: list[int], model_sha: str) -> None:
    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    buf = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
    payload = bytes(buf[:written])
    header = _header(tokens, model_sha, payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(MAGIC + json.dumps(header).encode() + b"\n" + payload)
    os.replace(tmp, path)
    _prune(path.parent)


def _restore(llm: Any, path: Path, tokens: list[int], model_sha: str) -> None:
    import llama_cpp

    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError("not a codexec prefix file")
    line, _, payload = data[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError("unreadable header") from exc
    expected = _header(tokens, model_sha, payload)
    wrong = [k for k, v in expected.items() if header.get(k) != v]
    if wrong:
        raise ValueError(f"does not match: {', '.join(wrong)}")
    ctx = llm._ctx.ctx
    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, -1, -1)
    llm.n_tokens = 0
    buf = (ctypes.c_uint8 * len(payload)).from_buffer_copy(payload)
    if llama_cpp.llama_state_seq_set_data(ctx, buf, len(payload), 0) == 0:
        raise ValueError("llama.cpp refused the state")
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)


def _header(tokens: list[int], model_sha: str, payload: bytes) -> dict[str, Any]:
    """What a prefix file must declare to be loaded for these tokens on this model."""
    import llama_cpp

    return {
        "model_sha256": model_sha,
        "tokens_sha256": token_hash(tokens),
        "n_tokens": len(tokens),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "llama_cpp": getattr(llama_cpp, "__version__", "?"),
    }


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("*.kv"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP_FILES:]:
        old.unlink(missing_ok=True)
