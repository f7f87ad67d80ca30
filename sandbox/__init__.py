"""codexec sandbox: isolated, warm, stateful Python execution (see notes/SANDBOX_API.md)."""

from sandbox.client import isolation_level, prewarm
from sandbox.limits import Limits
from sandbox.result import ErrorInfo, ExecutionResult, Figure, FileInfo, SandboxError
from sandbox.session import Sandbox

__all__ = [
    "ErrorInfo",
    "ExecutionResult",
    "FileInfo",
    "Figure",
    "Limits",
    "Sandbox",
    "SandboxError",
    "isolation_level",
    "prewarm",
]
