"""`python -m agent solve|serve|mcp`.

Exit codes: 0 answered; 1 model/runtime error; 2 usage error, bad file or unknown model;
3 missing API key; 130 interrupted (Ctrl-C). Every failure prints one clear line on stderr.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from agent.answer import find_final_answer
from agent.events import Event, PartDone, TextDelta
from agent.files import load_input_file
from agent.loop import Agent
from agent.models import VALID_SPECS
from agent.models.base import BadModelSpecError, MissingKeyError, ModelError
from agent.parts import CodePart, FunctionCallPart, ImagePart, ResultPart, TextPart
from agent.result import OutputFile, SolveResult
from agent.strategies import STRATEGIES

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_KEY = 0, 1, 2, 3
SERVER_PACKAGES = ("fastapi", "starlette", "uvicorn", "mcp")  # the `serve` extra
_FINAL_MARKER = re.compile(r"final\s+answer", re.IGNORECASE)


def program_name(command: str = "") -> str:
    """How the user started us, for usage lines: `codexec` (the console script) or
    `python -m agent`, followed by the subcommand if any."""
    base = "codexec" if Path(sys.argv[0]).name == "codexec" else "python -m agent"
    return f"{base} {command}".strip()


def _server_command(name: str, argv: list[str]) -> int:
    """`serve` or `mcp`, whose web and MCP frameworks are the `serve` extra."""
    try:
        if name == "serve":
            from agent.server.serve import main as run
        else:
            from agent.server.mcp_server import main as run
    except ModuleNotFoundError as exc:
        package = (exc.name or "").split(".")[0]
        if package not in SERVER_PACKAGES:
            raise
        return _fail(
            f"{name} needs the {package} package; install it with pip install 'codexec[serve]'",
            EXIT_USAGE,
        )
    return int(run(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("serve", "mcp"):
        return _server_command(argv[0], argv[1:])
    args = build_parser().parse_args(argv)  # exits 2 on a usage error
    try:
        return solve_command(args)
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(),
        description="Let a model answer by writing Python that runs in a local sandbox.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{solve,serve,mcp}")
    solve = sub.add_parser("solve", help="answer one question")
    solve.add_argument("question", help="the question (or task) for the model; - reads stdin")
    solve.add_argument(
        "--model",
        default=os.environ.get("CODEXEC_MODEL") or "local",
        metavar="SPEC",
        help=f"model spec: {VALID_SPECS} (default: $CODEXEC_MODEL or local)",
    )
    solve.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="put this file in the sandbox's working directory (repeatable)",
    )
    solve.add_argument("--json", action="store_true", help="print only the result JSON")
    solve.add_argument(
        "--no-code-execution", action="store_true", help="the model answers without running code"
    )
    solve.add_argument(
        "--max-steps", type=int, default=10, metavar="N", help="model calls at most (10)"
    )
    solve.add_argument(
        "--max-retries",
        type=int,
        default=5,
        metavar="N",
        help="consecutive failed runs allowed (5)",
    )
    solve.add_argument(
        "--out",
        default="outputs",
        metavar="DIR",
        help="where figures and created files go (./outputs)",
    )
    solve.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="seconds per code run (30)"
    )
    solve.add_argument(
        "--time-budget",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds for the whole solve (300)",
    )
    solve.add_argument(
        "--samples",
        type=int,
        default=1,
        metavar="K",
        help=(
            "solve up to K times (first greedy, then sampled; in rounds of 2, then 4, 8 in all,"
            " stopping once the answers agree) and answer with the majority (1)"
        ),
    )
    solve.add_argument(
        "--recheck",
        type=int,
        default=4,
        metavar="N",
        help="when the code leaves a number of the question unused, sample N more solves and "
        "vote (4; 0: never)",
    )
    solve.add_argument(
        "--crosscheck",
        action="store_true",
        help="also answer without code; when the answers differ, sample --recheck more solves "
        "with and without code and vote",
    )
    solve.add_argument(
        "--strategy",
        choices=sorted(STRATEGIES),
        default=None,
        help="how a text model is prompted: code-first (code before any words), solve-first "
        "(the problem solved in words after worked examples, then code doing the same steps), "
        "solve-first-zero-shot (the same without the examples) or auto (zero-shot for a question "
        "in prose, the examples for one that carries data: quoted text, several lines, a list, "
        "files); default: the model's own (auto for local models, code-first for openai:)",
    )
    solve.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each model call's speed (prompt tokens read and reused, tokens/s) to stderr",
    )
    sub.add_parser("serve", help="Gemini-compatible HTTP server (see `serve --help`)")
    sub.add_parser("mcp", help="MCP server on stdio with the run_python tool")
    return parser


def solve_command(args: argparse.Namespace) -> int:
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if args.question == "-":
        args.question = sys.stdin.read()
    if not args.question.strip():
        return _fail("the question is empty", EXIT_USAGE)
    for name in ("max_steps", "timeout", "time_budget", "samples"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            return _fail(f"--{name.replace('_', '-')} must be positive", EXIT_USAGE)
    if args.max_retries < 0 or args.recheck < 0:
        return _fail("--max-retries and --recheck must be 0 or more", EXIT_USAGE)
    if Path(args.out).exists() and not Path(args.out).is_dir():
        return _fail(f"--out {args.out} exists and is not a directory", EXIT_USAGE)
    try:
        files = [load_input_file(p) for p in args.file]
    except (OSError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    limits = None
    if args.timeout is not None:
        from sandbox import Limits

        limits = Limits(timeout_s=args.timeout)
    try:
        agent = Agent(
            args.model,
            code_execution=not args.no_code_execution,
            max_steps=args.max_steps,
            max_retries=args.max_retries,
            time_budget_s=args.time_budget,
            sandbox_limits=limits,
            samples=args.samples,
            recheck=args.recheck,
            crosscheck=args.crosscheck,
            strategy=args.strategy,
        )
    except MissingKeyError as exc:
        return _fail(str(exc), EXIT_KEY)
    except BadModelSpecError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (ModelError, ImportError) as exc:
        return _fail(f"cannot load model {args.model!r}: {exc}", EXIT_ERROR)

    out = Outputs(Path(args.out))
    try:
        if args.json:
            result = agent.run(args.question, files)
            print(json.dumps(result.to_gemini(), indent=2, ensure_ascii=False), flush=True)
            for part in result.parts:
                if isinstance(part, ImagePart):
                    out.save_figure(part)
            out.save_files(result.output_files)
        else:
            view = LiveView(Console(highlight=False), out)
            view.spin(True)
            try:
                result = agent.run(args.question, files, on_event=view)
            finally:
                view.spin(False)
            view.finish(result)
    except OSError as exc:
        return _fail(f"cannot write to {args.out}: {exc}", EXIT_ERROR)
    if result.finish_reason == "ERROR" or (result.error and not result.final_answer):
        return _fail(result.error or "the solve failed", EXIT_ERROR)
    return EXIT_OK


class Outputs:
    """Writes figures (figure_N.png, numbered over the solve) and created files to --out."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.figures = 0

    def save_figure(self, part: ImagePart) -> Path:
        self.figures += 1
        ext = ".png" if part.mime_type == "image/png" else "." + part.mime_type.split("/")[-1]
        return self._write(f"figure_{self.figures}{ext}", base64.b64decode(part.data))

    def save_files(self, files: list[OutputFile]) -> list[Path]:
        saved = []
        for f in files:
            parts = [p for p in Path(f.name).parts if p not in ("", ".", "..", "/")]
            if parts:
                saved.append(self._write(str(Path(*parts)), base64.b64decode(f.data_b64)))
        return saved

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


class LiveView:
    """Prints a solve as it happens: prose, highlighted code, outputs, saved figures."""

    def __init__(self, console: Console, out: Outputs) -> None:
        self.console = console
        self.out = out
        self.mid_line = False
        self.prose = ""  # the text streamed since the last code, output or figure
        # a spinner while the model thinks (terminals only; it never reaches pipes or files)
        self.spinner = console.status("thinking…") if console.is_terminal else None
        self.spinning = False

    def spin(self, on: bool, status: str = "thinking…") -> None:
        if self.spinner is None:
            return
        if on:
            self.spinner.update(status)
        if on != self.spinning:
            (self.spinner.start if on else self.spinner.stop)()
            self.spinning = on

    def __call__(self, event: Event) -> None:
        self.spin(False)
        try:
            self._show(event)
        finally:
            part = event.part if isinstance(event, PartDone) else None
            if isinstance(part, CodePart):
                self.spin(True, "running the code…")
            elif isinstance(part, ResultPart | ImagePart):
                self.spin(True)

    def _show(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.console.out(event.text, end="", highlight=False)
            self.mid_line = not event.text.endswith("\n")
            self.prose += event.text
            return
        if not isinstance(event, PartDone):
            return
        if self.mid_line:
            self.console.out("")
            self.mid_line = False
        part = event.part
        if isinstance(part, TextPart):
            return
        self.prose = ""
        if isinstance(part, CodePart):
            code = Syntax(part.code.rstrip(), "python", theme="monokai", word_wrap=True)
            self.console.print(Panel(code, title="code", title_align="left", border_style="blue"))
        elif isinstance(part, ResultPart):
            ok = part.outcome == "OUTCOME_OK"
            title = part.outcome if ok else f"{part.outcome} ({part.verdict})"
            body = Text(part.output.rstrip() or "(no output)", style="" if ok else "red")
            style = "green" if ok else "red"
            self.console.print(Panel(body, title=title, title_align="left", border_style=style))
        elif isinstance(part, ImagePart):
            path = self.out.save_figure(part)
            self.console.print(
                f"figure saved to {path}", style="cyan", markup=False, soft_wrap=True
            )
        elif isinstance(part, FunctionCallPart):
            call = f"function call: {part.name}({json.dumps(part.args)})"
            self.console.print(call, style="magenta", markup=False)

    def finish(self, result: SolveResult) -> None:
        self.spin(False)
        if self.mid_line:
            self.console.out("")
        for path in self.out.save_files(result.output_files):
            self.console.print(f"file saved to {path}", style="cyan", markup=False, soft_wrap=True)
        self.console.print()
        if not self.answer_was_shown(result.final_answer):
            answer = Text("Final answer: ", style="bold")
            answer.append(result.final_answer or "(none)", style="bold green")
            self.console.print(answer)
        u = result.usage
        self.console.print(
            f"tokens: prompt {u.prompt_token_count} · tool-use {u.tool_use_prompt_token_count}"
            f" · output {u.candidates_token_count} · total {u.total_token_count}"
            f"  |  steps {result.steps}  |  {result.duration_s:.1f} s"
            + ("" if result.finish_reason == "STOP" else f"  |  {result.finish_reason}"),
            style="dim",
            markup=False,
            soft_wrap=True,
        )

    def answer_was_shown(self, final_answer: str) -> bool:
        """Whether the streamed prose already ended by stating this very "Final answer: ..."."""
        return (
            bool(final_answer)
            and _FINAL_MARKER.search(self.prose) is not None
            and find_final_answer(self.prose) == final_answer
        )


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
