"""The agent: generate -> execute -> observe, until the model answers.

The whole loop is `Agent._solve` below, top to bottom. Memory is plain data: the list of
Messages. Each model call becomes one model Message holding, as Gemini returns them, the
model's text, its code, the result of running that code and the figures it drew.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterable
from pathlib import Path
from typing import Any, TypeVar

from agent.answer import answer_from_parts
from agent.consistency import solve_checked, solve_sampled
from agent.degenerate import is_degenerate, trim_loop
from agent.events import Done, Event, PartDone, TextDelta
from agent.figure_budget import FigureBudget
from agent.files import (
    InputFile,
    files_from_messages,
    inline_text_files,
    load_input_file,
    read_output_files,
    unique,
)
from agent.models import cancel, get_model
from agent.models.base import GenerateOptions, Model, ModelError, ModelTurn
from agent.observe import format_output
from agent.parts import CodePart, ImagePart, Message, Part, ResultPart, TextPart
from agent.prompts import system_prompt
from agent.result import FinishReason, OutputFile, SolveResult
from agent.usage import CallUsage, Usage

DEFAULT_RUN_TIMEOUT_S = 30.0
# A model call still running when the time budget ends may finish within this grace (a nearly
# complete answer is kept); then it is cancelled: the local model stops at its next token.
GENERATE_GRACE_S = 0.5
STOP_WAIT_S = 1.0  # how long a model call we stopped waiting for may take to end (and free it)

CODE_DISABLED = (
    "Code execution failed {n} times in a row, so it is now disabled. Do not write any more "
    "code. Using what you have found so far, give your final answer now, as:\n"
    "Final answer: <the answer alone>"
)
CUT_OFF = (
    "Your last answer was cut off at the length limit{why}, so it was not used. Do not repeat "
    "yourself. If you need code, write one short ```python block; otherwise give your final "
    "answer now, as:\nFinal answer: <the answer alone>"
)
CUT_OFF_RETRIES = 2  # asks after a cut-off or looping answer before the solve gives up
SAMPLE_TEMPERATURE = 0.7
RECHECK_SAMPLES = 4

T = TypeVar("T")
Contents = str | list[Message]
FileLike = str | Path | InputFile


class Agent:
    """A reusable solver: a model, the tool settings and the limits of each solve.

    max_steps: model calls per solve. max_retries: consecutive failed (or repeated) code runs
    after which code execution is switched off and the model must answer. time_budget_s: wall
    clock per solve (model calls and code runs). sandbox_limits: a `sandbox.Limits`; its
    timeout_s is the per-run timeout (30 s by default). One Agent may run solves concurrently.
    samples: self-consistency; K > 1 solves the question K times (the first greedily, the others
    sampled at `sample_temperature`, first answers decoded as one batch where the backend can)
    and answers with the majority of their results; the winner's parts are the result's parts.
    recheck: with samples=1, when the code that ran leaves a number of the question unused, this
    many more solves are sampled and the answer is the majority vote, preferring solves whose
    code uses every number (0: never). crosscheck: with recheck, the model also answers once
    without code; when that answer differs, `recheck` more solves with code and as many without
    are sampled and all of them vote.
    """

    def __init__(
        self,
        model: str | Model = "local",
        *,
        code_execution: bool = True,
        max_retries: int = 5,
        max_steps: int = 10,
        time_budget_s: float = 300.0,
        system_instruction: str | None = None,
        options: GenerateOptions | None = None,
        sandbox_limits: Any = None,  # sandbox.Limits
        samples: int = 1,
        sample_temperature: float = SAMPLE_TEMPERATURE,
        recheck: int = RECHECK_SAMPLES,
        crosscheck: bool = False,
        sandbox: Any = None,  # an open Sandbox to run code in, left open (a server environment)
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if time_budget_s <= 0:
            raise ValueError("time_budget_s must be positive")
        if samples < 1:
            raise ValueError("samples must be at least 1")
        if recheck < 0:
            raise ValueError("recheck must be 0 or more")
        if not 0 < sample_temperature <= 2:
            raise ValueError("sample_temperature must be in (0, 2]")
        self.model: Model = get_model(model) if isinstance(model, str) else model
        self.code_execution = code_execution
        self.max_retries = max_retries
        self.max_steps = max_steps
        self.time_budget_s = time_budget_s
        self.system_instruction = system_instruction
        self.options = options or GenerateOptions()
        self.sandbox_limits = sandbox_limits
        self.run_timeout_s = float(getattr(sandbox_limits, "timeout_s", DEFAULT_RUN_TIMEOUT_S))
        self.samples = samples
        self.sample_temperature = sample_temperature
        self.recheck = recheck
        self.crosscheck = crosscheck
        self.sandbox = sandbox

    def run(
        self, contents: Contents, files: Iterable[FileLike] = (), on_event: Any = None
    ) -> SolveResult:
        """Solve and return the result; `on_event(event)` sees every event if given."""
        result: SolveResult | None = None
        events = self._events(contents, files, stream_text=on_event is not None)
        with contextlib.closing(events):  # if on_event raises, the sandbox still closes now
            for event in events:
                if on_event is not None:
                    on_event(event)
                if isinstance(event, Done):
                    result = event.result
        assert result is not None
        return result

    def stream(
        self, contents: Contents, files: Iterable[FileLike] = ()
    ) -> Generator[Event, None, None]:
        """TextDelta / PartDone events as they happen, then one Done. Closing it early stops
        the solve and frees its sandbox. Bad files raise here, before anything runs."""
        return self._events(contents, files, stream_text=True)

    def _events(
        self, contents: Contents, files: Iterable[FileLike], stream_text: bool
    ) -> Generator[Event, None, None]:
        history = [Message.user(contents)] if isinstance(contents, str) else list(contents)
        if not history:
            raise ValueError("nothing to solve: contents is empty")
        inputs = unique([load_input_file(f) for f in files] + files_from_messages(history))
        if not self.code_execution and inputs:
            history = inline_text_files(history, inputs)
        if self.samples > 1:
            return solve_sampled(self, history, inputs, stream_text)
        if self.recheck > 0 and self.code_execution:
            return solve_checked(self, history, inputs, stream_text)
        return self._solve(history, inputs, stream_text)

    def _system(self, inputs: list[InputFile]) -> str:
        return system_prompt(
            self.code_execution, [f.name for f in inputs], self.system_instruction or ""
        )

    def _solve(
        self,
        history: list[Message],
        inputs: list[InputFile],
        stream_text: bool,
        first: ModelTurn | None = None,
        budget_s: float | None = None,
    ) -> Generator[Event, None, None]:
        """One solve. `first`: the first model turn, already generated (self-consistency)."""
        start = time.monotonic()
        budget = self.time_budget_s if budget_s is None else budget_s
        parts: list[Part] = []  # the model's parts, in order: the result's content
        calls: list[CallUsage] = []
        created: dict[str, None] = {}  # names of files the code created or changed
        figures = 0
        figure_budget = FigureBudget.from_env()
        steps = 0
        failures = 0  # consecutive failed (or repeated) code runs
        last_code: str | None = None
        empty_turns = 0
        cut_offs = 0
        code_on = self.code_execution
        finish: FinishReason = "STOP"
        error: str | None = None
        output_files: list[OutputFile] = []
        sandbox = None
        try:
            if code_on:
                _prewarm_sandbox()  # its first start takes seconds: overlap it with the model
            system = self._system(inputs)
            while True:
                remaining = budget - (time.monotonic() - start)
                if steps >= self.max_steps:
                    finish = "MAX_STEPS"
                    break
                if remaining <= 0:
                    finish = "TIME_BUDGET"
                    break

                # 1. generate
                options = self.options
                if remaining < options.timeout_s:  # in whole 10 s steps: backends cache per value
                    timeout = min(options.timeout_s, max(10.0, math.ceil(remaining / 10) * 10))
                    options = options.model_copy(update={"timeout_s": timeout})
                steps += 1
                deadline = start + budget + GENERATE_GRACE_S
                if first is not None:
                    turn, first = first, None
                else:
                    try:
                        turn = yield from self._generate(
                            system, history, code_on, options, stream_text, deadline
                        )
                    except OutOfTime:
                        finish = "TIME_BUDGET"
                        break
                calls.append(turn.usage)
                text, code = turn.text, turn.code if turn.code and turn.code.strip() else None
                if code is not None and not code_on:  # code it may not run is just text
                    text, code = f"{text.rstrip()}\n```python\n{code}\n```".strip(), None
                if not text.strip() and code is None and not turn.function_calls:
                    empty_turns += 1
                    if empty_turns == 1:
                        continue
                    finish, error = "ERROR", "the model returned empty output twice in a row"
                    break
                empty_turns = 0
                cut_off = code is None and turn.finish_reason == "MAX_TOKENS"
                if cut_off:  # a loop or an unclosed block: keep its start, never answer with it
                    looped = is_degenerate(text)
                    text = trim_loop(text)

                message = Message(role="model", parts=[])
                history.append(message)
                new: list[Part] = [TextPart(text=text)] if text.strip() else []
                if code is not None:
                    new.append(CodePart(code=code))
                for new_part in new:
                    message.parts.append(new_part)
                    parts.append(new_part)
                    yield PartDone(new_part)

                # 2. execute and 3. observe: the result joins the same model message
                if code is not None:
                    if sandbox is None:  # opened on first use: answers without code need none
                        sandbox = figure_budget.wrap(
                            _open_sandbox(self.sandbox_limits, inputs, self.sandbox)
                        )
                    remaining = budget - (time.monotonic() - start)
                    result, images, changed = _execute(
                        sandbox, code, min(self.run_timeout_s, max(1.0, remaining)), figures + 1
                    )
                    figures += len(images)
                    created.update(dict.fromkeys(changed))
                    repeated = last_code is not None and code.strip() == last_code
                    failures = failures + 1 if result.outcome != "OUTCOME_OK" or repeated else 0
                    last_code = code.strip()
                    new_parts: list[Part] = [result, *images]
                    for new_part in new_parts:
                        message.parts.append(new_part)
                        parts.append(new_part)
                        yield PartDone(new_part)

                if turn.function_calls:  # the caller runs these; hand them back
                    for call in turn.function_calls:
                        message.parts.append(call)
                        parts.append(call)
                        yield PartDone(call)
                    break
                if cut_off:
                    if cut_offs < CUT_OFF_RETRIES:
                        cut_offs += 1
                        why = ", repeating itself" if looped else ""
                        history.append(Message.user(CUT_OFF.format(why=why)))
                        continue
                    finish = "MAX_TOKENS"
                    error = "the model's answer was cut off at the token limit" + (
                        " (it kept repeating itself)" if looped else ""
                    )
                    break
                if code is None:  # an answer
                    break
                if code_on and failures >= max(1, self.max_retries):
                    code_on = False
                    history.append(Message.user(CODE_DISABLED.format(n=failures)))
        except ModelError as exc:
            finish, error = "ERROR", str(exc)
        except GeneratorExit:  # the consumer is gone: nothing to collect
            created.clear()
            raise
        except Exception as exc:  # a bug or a sandbox failure: report it, keep what we have
            finish, error = "ERROR", f"{type(exc).__name__}: {exc}"
        finally:
            if sandbox is not None:
                try:
                    output_files = read_output_files(sandbox, list(created)) if created else []
                finally:
                    if self.sandbox is None:
                        sandbox.close()
        yield Done(
            SolveResult(
                parts=parts,
                final_answer="" if finish == "MAX_TOKENS" else answer_from_parts(parts),
                steps=steps,
                duration_s=time.monotonic() - start,
                usage=Usage.from_calls(calls),
                finish_reason=finish,
                output_files=output_files,
                error=error,
            )
        )

    def _generate(
        self,
        system: str,
        history: list[Message],
        code_on: bool,
        options: GenerateOptions,
        stream_text: bool,
        deadline: float,
    ) -> Generator[Event, None, ModelTurn]:
        """One model call, in a worker thread: its text is yielded as it arrives (a backend that
        streams nothing still yields its text once). When the loop stops waiting for it (the
        `deadline` (monotonic) passes, the stream is closed, Ctrl-C), the call is cancelled
        (`agent.models.cancel`: the local model stops at its next token) and given `STOP_WAIT_S`
        to end; a backend that ignores the cancellation is abandoned."""
        snapshot = list(history)
        pipe: queue.Queue[str | None] = queue.Queue()
        box: dict[str, Any] = {}
        abandoned = threading.Event()

        def sink(chunk: str) -> None:
            if abandoned.is_set():  # the consumer is gone: make the backend stop generating
                raise _Abandoned("the solve was stopped")
            if stream_text:
                pipe.put(chunk)

        def work() -> None:
            try:
                with cancel.scope(abandoned):
                    box["turn"] = self.model.generate(
                        system, snapshot, code_execution=code_on, options=options, on_text=sink
                    )
            except BaseException as exc:  # re-raised in the loop's thread
                box["error"] = exc
            finally:
                pipe.put(None)

        worker = threading.Thread(target=work, name="codexec-generate", daemon=True)
        worker.start()
        streamed = False
        try:
            while True:
                try:
                    chunk = pipe.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    raise OutOfTime() from None
                if chunk is None:
                    break
                if chunk:
                    streamed = True
                    yield TextDelta(chunk)
        finally:
            abandoned.set()
            if worker.is_alive():  # left early: let the call stop and release the model
                worker.join(STOP_WAIT_S)
        if "error" in box:
            raise box["error"]
        turn: ModelTurn = box["turn"]
        if stream_text and not streamed and turn.text.strip():
            yield TextDelta(turn.text)
        return turn


class _Abandoned(Exception):
    pass


class OutOfTime(Exception):
    """A model call did not end before the solve's deadline (it was cancelled)."""


def call_model(fn: Callable[[], T], deadline: float = math.inf) -> T:
    """`fn()`, a model call that streams nothing, in a worker thread inside a cancel scope: it
    is cancelled (and given `STOP_WAIT_S` to end) when `deadline` (monotonic) passes, raising
    OutOfTime, or when this thread is interrupted (Ctrl-C)."""
    box: dict[str, Any] = {}
    stop = threading.Event()

    def work() -> None:
        try:
            with cancel.scope(stop):
                box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="codexec-generate", daemon=True)
    worker.start()
    try:
        while worker.is_alive():  # in steps: the deadline may be infinite
            left = deadline - time.monotonic()
            if left <= 0:
                raise OutOfTime()
            worker.join(min(left, 1.0))
    finally:
        if worker.is_alive():
            stop.set()
            worker.join(STOP_WAIT_S)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _prewarm_sandbox() -> None:
    def warm() -> None:
        try:
            import sandbox

            sandbox.prewarm()
        except Exception:  # opening the sandbox later reports the problem properly
            pass

    threading.Thread(target=warm, name="codexec-sandbox-prewarm", daemon=True).start()


def _open_sandbox(limits: Any, inputs: list[InputFile], given: Any = None) -> Any:
    from sandbox import Sandbox  # imported here: `import agent` stays light

    if given is not None:
        sandbox = given
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


def _execute(
    sandbox: Any, code: str, timeout_s: float, first_figure: int
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
