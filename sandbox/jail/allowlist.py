"""Import allowlist for user code (guidance for the model, not the security boundary).

Only imports made *by user code* are checked (see _from_user); libraries' own imports pass.
"""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Callable
from typing import Any

# allowed_libs.txt at the repository's top level is the source of truth; this is its copy.
DEFAULT_LIBS = (
    "numpy pandas matplotlib seaborn sympy scipy sklearn statsmodels altair chess cv2 mpmath "
    "pdfminer reportlab striprtf tabulate"
).split()
# Third-party packages that ship with the allowed ones and are commonly imported directly.
IMPLIED = ("mpl_toolkits", "dateutil", "pylab")
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


# Tracebacks show it as the ImportError a model expects (it still is one: except ImportError).
BlockedImportError.__module__ = "builtins"
BlockedImportError.__qualname__ = "ImportError"


def load_allowed_libs(path: str | None = None) -> list[str]:
    if path is None:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # sandbox/
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
    return names or list(DEFAULT_LIBS)  # an installed package has no allowed_libs.txt


def is_allowed(name: str, libs: frozenset[str]) -> bool:
    top = name.split(".", 1)[0]
    if top in libs:
        return True
    if top not in sys.stdlib_module_names:
        return False
    parts = name.split(".")
    return not any(".".join(parts[: i + 1]) in DENIED_STDLIB for i in range(len(parts)))


USER_FILENAME = "<code>"


def _from_user(globals_: Any, user_globals: dict[str, Any]) -> bool:
    """An import made by user code: from a frame compiled as "<code>" or run in the user's
    namespace (exec of a string inside user code). Libraries' own code, including code they
    generate and exec (jinja2 templates, dataclasses), is not checked."""
    if globals_ is user_globals:
        return True
    frame = sys._getframe(2)
    return frame is not None and frame.f_code.co_filename == USER_FILENAME


def install(libs: list[str], user_globals: dict[str, Any]) -> None:
    """Wrap builtins.__import__ so user code gets a helpful ImportError."""
    allowed = frozenset(libs) | frozenset(IMPLIED)
    listing = ", ".join(sorted(libs))
    real_import: Callable[..., Any] = builtins.__import__

    def guarded_import(
        name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level == 0 and not is_allowed(name, allowed) and _from_user(globals, user_globals):
            raise BlockedImportError(
                f"import of '{name}' is not allowed in this sandbox. Allowed modules: "
                f"{listing}, and the Python standard library except process, network and "
                "system modules (subprocess, socket, ctypes, multiprocessing, importlib, ...). "
                "Installing packages (pip) is not possible.",
                name=name,
            )
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded_import
