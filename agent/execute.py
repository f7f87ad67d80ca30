"""The loop's side of the sandbox boundary: open a session with the input files, run one code
block, and turn its `sandbox.ExecutionResult` into parts. `CodeSandbox` is what the loop needs
of a sandbox (a `sandbox.Sandbox`, or one a server environment keeps open)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from agent.files import InputFile
from agent.observe import format_output
from agent.parts import ImagePart, ResultPart

if TYPE_CHECKING:  # `import agent` stays light: the sandbox is imported when code first runs
    from sandbox import ExecutionResult, FileInfo, Limits


class CodeSandbox(Protocol):
    def run(self, code: str, timeout_s: float | None = None) -> ExecutionResult: ...

    def put_file(self, name: str, data: bytes | str) -> FileInfo: ...

    def list_files(self) -> list[FileInfo]: ...

    def read_file(self, name: str) -> bytes: ...

    def close(self) -> None: ...


def prewarm_sandbox() -> None:
    def warm() -> None:
        try:
            import sandbox

            sandbox.prewarm()
        except Exception:  # opening the sandbox later reports the problem properly
            pass

    threading.Thread(target=warm, name="codexec-sandbox-prewarm", daemon=True).start()


def open_sandbox(
    limits: Limits | None, inputs: list[InputFile], given: CodeSandbox | None = None
) -> CodeSandbox:
    from sandbox import Sandbox  # imported here: `import agent` stays light

    if given is not None:
        sandbox: CodeSandbox = given
    else:
        sandbox = Sandbox(limits=limits) if limits is not None else Sandbox()
    try:
        for f in inputs:
            sandbox.put_file(f.name, f.data)
    except BaseException:
        if given is None:
            sandbox.close()
        raise
    return sandbox


def execute(
    sandbox: CodeSandbox, code: str, timeout_s: float, first_figure: int
) -> tuple[ResultPart, list[ImagePart], list[str]]:
    """Run one code block: its ResultPart, its figures, the files it created or changed."""
    try:
        r = sandbox.run(code, timeout_s=timeout_s)
    except Exception as exc:  # the sandbox itself broke: the model sees it as a failed run
        output = f"Internal sandbox error: {type(exc).__name__}: {exc}"
        return ResultPart(outcome="OUTCOME_FAILED", output=output, verdict="internal_error"), [], []
    result = ResultPart(outcome=r.outcome, output=format_output(r, first_figure), verdict=r.verdict)
    images = [ImagePart(mime_type=f.mime_type, data=f.data) for f in r.figures]
    return result, images, [f.name for f in r.files]
