"""The agent: generate -> execute -> observe, until the model answers.

The whole loop is `Agent._solve` below, top to bottom. Memory is plain data: the list of
Messages. Each model call becomes one model Message holding, as Gemini returns them, the
model's text, its code, the result of running that code and the figures it drew.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agent import execute
from agent.answer import extract_final_answer
from agent.consistency import solve_checked, solve_sampled
from agent.degenerate import is_degenerate, trim_loop
from agent.events import Done, Event, TextDelta
from agent.execute import CodeSandbox
from agent.files import (
    InputFile,
    files_from_messages,
    inline_text_files,
    load_input_file,
    read_output_files,
    unique,
)
from agent.model_call import OutOfTime, stream_call
from agent.models import get_model
from agent.models.base import GenerateOptions, Model, ModelError, ModelTurn
from agent.observe import truncate
from agent.parts import FIGURE_LINE, CodePart, Message, Part, TextPart, last_run
from agent.result import SolveResult
from agent.solve_state import SolveState
from agent.strategies import Attempt, Prompt, Strategy, named_strategy, strategy_for
from agent.verify import answer_contradicts_output

if TYPE_CHECKING:
    from sandbox import Limits

DEFAULT_RUN_TIMEOUT_S = 30.0
# A model call still running when the time budget ends may finish within this grace (a nearly
# complete answer is kept); then it is cancelled: the local model stops at its next token.
GENERATE_GRACE_S = 0.5

CODE_DISABLED = (
    "Code execution failed {n} times in a row, so it is now disabled. Do not write any more "
    "code. Using what you have found so far, give your final answer now, as:\n"
    "Final answer: <the answer alone>"
)
CONTRADICTS_OUTPUT = (
    "Your answer {answer} is not what the code printed:\n```output\n{output}\n```\nIf the code "
    "computes what the question asks, give the value it printed. If it does not, fix the code "
    "and run it again. End with:\nFinal answer: <the answer alone>"
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
    samples: self-consistency; K > 1 solves the question up to K times (the first greedily, the
    others sampled at `sample_temperature`) in rounds of 2, then 4, 8 in all, each round's first
    answers decoded as one batch where the backend can, until the answers agree
    (`agent.vote.settled`); it answers with the majority of their results, and the winner's
    parts are the result's parts.
    recheck: with samples=1, when the code that ran leaves a number of the question unused, this
    many more solves are sampled and the answer is the majority vote, preferring solves whose
    code uses every number (0: never). crosscheck: with recheck, the model also answers once
    without code; when that answer differs, `recheck` more solves with code and as many without
    are sampled and all of them vote. strategy: how the model is prompted and how each step's
    model calls are made (agent/strategies/), or the name of one ("solve-first"); by default the
    one the model asks for.
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
        sandbox_limits: Limits | None = None,
        samples: int = 1,
        sample_temperature: float = SAMPLE_TEMPERATURE,
        recheck: int = RECHECK_SAMPLES,
        crosscheck: bool = False,
        sandbox: CodeSandbox | None = None,  # an open sandbox to run code in, left open (a server
        # environment)
        strategy: Strategy | str | None = None,
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
        if isinstance(strategy, str):
            strategy = named_strategy(strategy, self.model)
        self.strategy: Strategy = strategy or strategy_for(self.model)

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

    def _prompt(self, history: list[Message], inputs: list[InputFile], code_on: bool) -> Prompt:
        """What the model is shown next, as the strategy builds it."""
        return self.strategy.prompt(
            history,
            code_execution=code_on,
            files=[f.name for f in inputs],
            instruction=self.system_instruction or "",
        )

    def call_options(
        self, attempt: Attempt, prompt: Prompt, options: GenerateOptions
    ) -> GenerateOptions:
        """The options of one model call: the solve's, with the attempt's start and decoding."""
        if attempt.prefill and not getattr(self.model, "supports_prefill", False):
            raise ModelError(
                f"{self.model.spec} cannot continue a given answer start; use a strategy "
                "without prefill (TextProtocol(prefill=False))"
            )
        return options.model_copy(
            update={
                "prefill": attempt.prefill,
                "shared_prefix": prompt.shared,
                "temperature": max(options.temperature, attempt.min_temperature),
                "seed": options.seed if attempt.seed is None else attempt.seed,
            }
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
        run = SolveState(
            history=history,
            inputs=inputs,
            start=time.monotonic(),
            budget=self.time_budget_s if budget_s is None else budget_s,
            code_on=self.code_execution,
        )
        try:
            if run.code_on:
                execute.prewarm_sandbox()  # its first start takes seconds: overlap it with the model
            while self._within_limits(run):
                if not (yield from self._step(run, stream_text, first)):
                    break
                first = None
        except ModelError as exc:
            run.finish, run.error = "ERROR", str(exc)
        except GeneratorExit:  # the consumer is gone: nothing to collect
            run.created.clear()
            raise
        except Exception as exc:  # a bug or a sandbox failure: report it, keep what we have
            run.finish, run.error = "ERROR", f"{type(exc).__name__}: {exc}"
        finally:
            self._close_sandbox(run)
        yield Done(run.result())

    def _within_limits(self, run: SolveState) -> bool:
        if run.steps >= self.max_steps:
            run.finish = "MAX_STEPS"
            return False
        if run.remaining() <= 0:
            run.finish = "TIME_BUDGET"
            return False
        return True

    def _step(
        self, run: SolveState, stream_text: bool, first: ModelTurn | None
    ) -> Generator[Event, None, bool]:
        """One step: generate, then execute and observe. False when the solve ends here."""
        run.steps += 1
        if first is not None:
            turn = first
            run.calls.append(turn.usage)
        else:
            try:
                turn = yield from self._model_turn(run, stream_text)
            except OutOfTime:
                run.finish = "TIME_BUDGET"
                return False
        text, code = turn.text, turn.code if turn.code and turn.code.strip() else None
        if code is not None and not run.code_on:  # code it may not run is just text
            text, code = f"{text.rstrip()}\n```python\n{code}\n```".strip(), None
        if not text.strip() and code is None and not turn.function_calls:
            run.empty_turns += 1
            if run.empty_turns == 1:
                return True
            run.finish, run.error = "ERROR", "the model returned empty output twice in a row"
            return False
        run.empty_turns = 0
        cut_off = code is None and turn.finish_reason == "MAX_TOKENS"
        looped = cut_off and is_degenerate(text)
        if cut_off:  # a loop or an unclosed block: keep its start, never answer with it
            text = trim_loop(text)

        message = Message(role="model", parts=[])
        run.history.append(message)
        new: list[Part] = [TextPart(text=text)] if text.strip() else []
        if code is not None:
            new.append(CodePart(code=code))
        yield from run.add(message, new)
        if code is not None:  # execute and observe: the result joins the same model message
            yield from run.add(message, self._run_code(run, code))
        if turn.function_calls:  # the caller runs these; hand them back
            yield from run.add(message, list(turn.function_calls))
            return False
        if cut_off:
            return self._after_cut_off(run, looped)
        if code is None:  # an answer, unless it contradicts the output it follows
            return self._asked_to_recheck(run, text)
        if run.code_on and run.failures >= max(1, self.max_retries):
            run.code_on = False
            run.history.append(Message.user(CODE_DISABLED.format(n=run.failures)))
        return True

    def _model_turn(self, run: SolveState, stream_text: bool) -> Generator[Event, None, ModelTurn]:
        """The step's model turn: the strategy's attempts, each a model call of its own, counted
        and stopped by the time budget like any other. The last attempt stands."""
        options = self.options
        remaining = run.remaining()
        if remaining < options.timeout_s:  # in whole 10 s steps: backends cache per value
            timeout = min(options.timeout_s, max(10.0, math.ceil(remaining / 10) * 10))
            options = options.model_copy(update={"timeout_s": timeout})
        deadline = run.start + run.budget + GENERATE_GRACE_S
        prompt = self._prompt(run.history, run.inputs, run.code_on)
        tried: list[ModelTurn] = []
        shown = False
        attempt: Attempt | None = self.strategy.first_attempt(
            run.history, code_execution=run.code_on
        )
        while attempt is not None:
            call = self.call_options(attempt, prompt, options)
            turn, streamed = yield from stream_call(
                self.model, prompt, run.code_on, call, stream_text and attempt.stream, deadline
            )
            run.calls.append(turn.usage)
            tried.append(turn)
            shown = shown or streamed
            attempt = self.strategy.next_attempt(run.history, tried, code_execution=run.code_on)
        if stream_text and not shown and turn.text.strip():
            yield TextDelta(turn.text)  # a backend that streams nothing still shows its text
        return turn

    def _run_code(self, run: SolveState, code: str) -> list[Part]:
        """Run one code block in the solve's sandbox (opened on first use): its result and
        figures. Failed and repeated runs count towards the retry limit."""
        if run.sandbox is None:
            run.sandbox = run.figure_budget.wrap(
                execute.open_sandbox(self.sandbox_limits, run.inputs, self.sandbox)
            )
        timeout = min(self.run_timeout_s, max(1.0, run.remaining()))
        result, images, changed = execute.execute(run.sandbox, code, timeout, run.figures + 1)
        run.figures += len(images)
        run.created.update(dict.fromkeys(changed))
        repeated = run.last_code is not None and code.strip() == run.last_code
        failed = result.outcome != "OUTCOME_OK" or repeated
        run.failures = run.failures + 1 if failed else 0
        run.last_code = code.strip()
        return [result, *images]

    def _asked_to_recheck(self, run: SolveState, text: str) -> bool:
        """Once per solve: when the answer states a number the output just before it does not
        show, say so and go on (True). The 1.5B often answers with its guess from before the
        code (a word count of 30 after the code printed 49)."""
        output = _last_output(run.history[:-1])
        if run.rechecked_answer or output is None or not run.code_on:
            return False
        answer = extract_final_answer(text)
        if not answer_contradicts_output(answer, output):
            return False
        run.rechecked_answer = True
        shown = truncate(output.strip(), 300)
        run.history.append(Message.user(CONTRADICTS_OUTPUT.format(answer=answer, output=shown)))
        return True

    def _after_cut_off(self, run: SolveState, looped: bool) -> bool:
        """An answer cut off at the token limit: ask again (twice), then give up."""
        if run.cut_offs < CUT_OFF_RETRIES:
            run.cut_offs += 1
            why = ", repeating itself" if looped else ""
            run.history.append(Message.user(CUT_OFF.format(why=why)))
            return True
        run.finish = "MAX_TOKENS"
        run.error = "the model's answer was cut off at the token limit" + (
            " (it kept repeating itself)" if looped else ""
        )
        return False

    def _close_sandbox(self, run: SolveState) -> None:
        """Collect the files the code created, then close the sandbox (unless it was given)."""
        if run.sandbox is None:
            return
        try:
            run.output_files = (
                read_output_files(run.sandbox, list(run.created)) if run.created else []
            )
        finally:
            if self.sandbox is None:
                run.sandbox.close()


def _last_output(history: list[Message]) -> str | None:
    """What the run that `history` ends with printed, if it ran and succeeded."""
    run = last_run(history)
    if run is None or run[1].outcome != "OUTCOME_OK":
        return None
    printed = FIGURE_LINE.sub("", run[1].output)  # "[figure 1 shown]" is not a value
    return printed if printed.strip() else None
