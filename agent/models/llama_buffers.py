"""Where llama.cpp may put the weights: its extra CPU buffer types (AMX tiles, repacked quants)
fault in some VMs, so models are loaded without them there. Used by the local backend and by
`python -m agent.models.llama_server`."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any


def extra_buffers_wanted(cpuinfo: str | None = None) -> bool:
    """Whether llama.cpp may put weights in its extra CPU buffer types (AMX tiles, repacked
    quants). `$CODEXEC_EXTRA_BUFFERS` (1/0) decides; by default not on CPUs that advertise AMX:
    in VMs (Firecracker measured here) AMX is listed in /proc/cpuinfo yet `ldtilecfg` faults, so
    llama.cpp's AMX matmul killed the process with SIGSEGV on the first prompt."""
    env = os.environ.get("CODEXEC_EXTRA_BUFFERS", "").strip()
    if env in ("0", "1"):
        return env == "1"
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
                cpuinfo = fh.read()
        except OSError:
            return True
    return not re.search(r"^flags\s*:.*\bamx_tile\b", cpuinfo, re.MULTILINE)


def patch_default_params() -> Any:
    """Make llama-cpp-python's default model params skip extra buffer types unless
    `extra_buffers_wanted()` (`Llama` has no parameter for it). Returns the original function
    to restore, or None when nothing was patched."""
    import llama_cpp.llama_cpp as capi

    if extra_buffers_wanted():
        return None
    default = capi.llama_model_default_params

    def params() -> Any:
        p = default()
        p.use_extra_bufts = False
        return p

    capi.llama_model_default_params = params
    return default


@contextlib.contextmanager
def without_extra_buffers() -> Iterator[None]:
    """The patch for one load (callers hold their load lock)."""
    import llama_cpp.llama_cpp as capi

    default = patch_default_params()
    try:
        yield
    finally:
        if default is not None:
            capi.llama_model_default_params = default
