"""Import allowlist for user code (guidance for the model, not the security boundary).

Only imports made *by user code* are checked: an import whose calling globals are not those of
a real imported module (user code runs in a plain dict). Libraries' own imports pass.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Callable
from typing import Any

# Third-party packages that ship with the allowed ones and are commonly imported directly.
IMPLIED = ("mpl_toolkits", "dateutil", "pytz", "pylab")
# Standard-library modules (and dotted prefixes) user code may not import.
DENIED_STDLIB = frozenset(
    """subprocess socket ctypes _ctypes multiprocessing _multiprocessing pip ensurepip venv
    importlib _imp imp _thread pty tty termios fcntl resource mmap select selectors ssl _ssl
    socketserver http.client http.server urllib.request ftplib smtplib poplib imaplib
    nntplib telnetlib xmlrpc webbrowser tkinter turtle idlelib posix nt _posixsubprocess pwd grp
    spwd crypt code codeop pdb bdb distutils setuptools site sysconfig signal gc _signal faulthandler
    tracemalloc _socket syslog""".split()
)


class BlockedImportError(ImportError):
    """Raised when user code imports a module outside the allowlist."""


def load_allowed_libs(path: str | None = None) -> list[str]:
    if path is None:
        here = os.path.dirname(os.path.abspath(__file__))
        for candidate in (
            os.path.join(os.path.dirname(here), "allowed_libs.txt"),
            os.path.join(here, "allowed_libs.txt"),
        ):
            if os.path.exists(candidate):
                path = candidate
                break
    names: list[str] = []
    if path:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    names.append(line)
    return names or ["numpy", "pandas", "matplotlib", "seaborn", "sympy", "scipy"]


def is_allowed(name: str, libs: frozenset[str]) -> bool:
    top = name.split(".", 1)[0]
    if top in libs:
        return True
    if top not in sys.stdlib_module_names:
        return False
    parts = name.split(".")
    return not any(".".join(parts[: i + 1]) in DENIED_STDLIB for i in range(len(parts)))


def _from_library(globals_: Any) -> bool:
    if not isinstance(globals_, dict):
        return False
    mod = sys.modules.get(globals_.get("__name__", ""))  # type: ignore[arg-type]
    return mod is not None and getattr(mod, "__dict__", None) is globals_


def install(libs: list[str]) -> None:
    """Wrap builtins.__import__ so user code gets a helpful ImportError."""
    allowed = frozenset(libs) | frozenset(IMPLIED)
    listing = ", ".join(sorted(libs))
    real_import: Callable[..., Any] = builtins.__import__

    def guarded_import(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level == 0 and not _from_library(globals) and not is_allowed(name, allowed):
            raise BlockedImportError(
                f"import of '{name}' is not allowed in this sandbox. Allowed modules: "
                f"{listing}, and the Python standard library except process, network and "
                "system modules (subprocess, socket, ctypes, multiprocessing, importlib, ...). "
                "Installing packages (pip) is not possible.",
                name=name,
            )
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import
