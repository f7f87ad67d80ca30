"""codexec sandbox: isolated, warm, stateful Python execution.

    with Sandbox(limits=Limits(timeout_s=30)) as sb:
        r = sb.run("import pandas as pd\nprint(pd.__version__)")

How it works: each host process starts one zygote (`python -m sandbox.jail.zygote`, clean
environment) that enters new mount/net/ipc/uts namespaces, pivots into a minimal read-only root
(/usr, a few /etc files, Python and the venv), imports the heavy libraries once and forks
sessions. A session is pid 1 of its own pid namespace with its own mount, network and IPC
namespaces, its own cgroups (memory, pids), an unprivileged uid, no_new_privs, a seccomp filter,
rlimits, a tmpfs workspace at /workspace and a private /tmp. The host enforces the wall clock,
output and figure caps, kills whatever a run leaves behind and SIGSTOPs the interpreter between
runs. Without root it uses a user namespace; without namespaces it refuses to run (unless
CODEXEC_UNSAFE_NO_ISOLATION=1).
"""

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
