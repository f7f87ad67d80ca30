"""`python -m sandbox run [--json] (-c CODE | FILE) [--file PATH ...] [--timeout S] [--out DIR]`."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path, PurePosixPath

from sandbox.limits import Limits
from sandbox.result import ExecutionResult, SandboxError
from sandbox.session import Sandbox


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="codexec-sandbox"
        if Path(sys.argv[0]).name == "codexec-sandbox"
        else "python -m sandbox",
        description="Run Python in the codexec sandbox.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one piece of Python in a fresh sandbox")
    src = run.add_mutually_exclusive_group(required=True)
    src.add_argument("-c", dest="code", metavar="CODE", help="the code to run")
    src.add_argument("file", nargs="?", metavar="FILE", help="a .py file to run ('-': stdin)")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--file", dest="files", action="append", default=[], metavar="PATH")
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS")
    run.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="save the files the code wrote (and figures as figure_N.png) into DIR",
    )
    return parser


def _read_code(args: argparse.Namespace) -> str:
    if args.code is not None:
        return args.code
    try:
        if args.file == "-":
            return sys.stdin.read()
        with open(args.file, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise SandboxError(f"cannot read {args.file}: {e}") from e


def _save_outputs(sb: Sandbox, result: ExecutionResult, out: Path) -> list[Path]:
    """Copy the files the code wrote, and its figures, from the workspace to `out`."""
    saved: list[Path] = []
    for f in result.files:
        parts = [p for p in PurePosixPath(f.name).parts if p not in ("", ".", "..", "/")]
        if parts:
            saved.append(_write(out / Path(*parts), sb.read_file(f.name)))
    for i, fig in enumerate(result.figures, 1):
        ext = fig.mime_type.split("/")[-1]
        saved.append(_write(out / f"figure_{i}.{ext}", base64.b64decode(fig.data)))
    return saved


def _write(path: Path, data: bytes) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise SandboxError(f"--out: cannot write {path}: {e.strerror or e}") from e
    return path


def _print_human(result: ExecutionResult) -> None:
    sys.stdout.write(result.stdout)
    if result.stdout and not result.stdout.endswith("\n"):
        sys.stdout.write("\n")
    sys.stderr.write(result.stderr)
    if result.error is not None:
        sys.stderr.write(result.error.traceback or f"{result.error.name}: {result.error.message}\n")
    for i, fig in enumerate(result.figures, 1):
        print(f"[figure {i}: {fig.mime_type}, {len(base64.b64decode(fig.data))} bytes]")
    for f in result.files:
        print(f"[file {f.name}: {f.size} bytes, {f.mime_type}]")
    print(f"[{result.outcome} ({result.verdict}) in {result.duration_s:.3f} s]", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    # One run per process: preloading every library would cost more than it saves.
    os.environ.setdefault("CODEXEC_SANDBOX_PRELOAD", "light")
    try:
        args = _parser().parse_args(argv)
    except _UsageError as e:
        print(f"python -m sandbox: usage error: {e}", file=sys.stderr)
        return 2
    try:
        if args.timeout is not None and args.timeout <= 0:
            raise _UsageError("--timeout must be positive")
        code = _read_code(args)
        for path in args.files:
            if not os.path.isfile(path):
                raise SandboxError(f"--file {path}: no such regular file")
        out = Path(args.out) if args.out is not None else None
        if out is not None and out.exists() and not out.is_dir():
            raise _UsageError(f"--out {args.out} exists and is not a directory")
        limits = Limits(timeout_s=args.timeout) if args.timeout else Limits()
        saved: list[Path] = []
        with Sandbox(limits=limits) as sb:
            for path in args.files:
                sb.add_file(path)
            result = sb.run(code)
            if out is not None:
                saved = _save_outputs(sb, result, out)
    except _UsageError as e:
        print(f"python -m sandbox: usage error: {e}", file=sys.stderr)
        return 2
    except SandboxError as e:
        print(f"python -m sandbox: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - one line, never a traceback
        print(f"python -m sandbox: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        _print_human(result)
    for path in saved:
        print(f"[saved {path}]", file=sys.stderr)
    return 0
