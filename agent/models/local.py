"""The embedded local model: Qwen2.5-Coder-Instruct (1.5B or 0.5B GGUF) through llama-cpp-python.

We render the ChatML prompt ourselves so that each turn of a solve is a strict extension of the
previous prompt plus what the model generated: llama.cpp then keeps the common prefix in its KV
cache and only evaluates the new tokens (the code's output and the next header). The system prompt
is shared between solves too, so consecutive questions reuse it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from agent.degenerate import is_degenerate
from agent.models.base import GenerateOptions, ModelError, ModelTurn, TextSink
from agent.models.cancel import Cancelled
from agent.models.fenced import CHATML_STOP, ProseStreamer, find_code_block, render_history
from agent.models.gguf_file import ChatTemplate
from agent.models.local_runtime import (
    MAX_SEQUENCES,
    N_CTX,
    _aborted_is_cancelled,
    _load,
    _Loaded,
    _stopping,
    scheduler_of,
)
from agent.models.local_scheduler import Request, Scheduler, common_length
from agent.parts import Message
from agent.usage import CallUsage

log = logging.getLogger("codexec.local")

ASSISTANT_HEADER = "<|im_start|>assistant\n"


def local_strategy(*, few_shot: bool = True, prefill: bool = True) -> Any:
    """The strategy local models solve with: `auto` (solve first; zero-shot for prose, with the
    worked examples for questions that carry data), measured in agent/strategies/auto.py."""
    from agent.strategies import Auto

    return Auto(few_shot=few_shot, prefill=prefill)


def render_chatml(system: str, history: list[Message]) -> str:
    """The Qwen2.5 chat template, ending with the open assistant header."""
    return chatml(_messages(system, history), open_turn=True)


def chatml(messages: list[dict[str, str]], open_turn: bool) -> str:
    out = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(out) + (ASSISTANT_HEADER if open_turn else "")


def _messages(system: str, history: list[Message]) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + render_history(history)


@dataclass
class GenerationStats:
    """The last call's numbers (for measurements and logs)."""

    prompt_tokens: int = 0
    reused_tokens: int = 0  # prompt tokens found in the KV cache
    output_tokens: int = 0
    prompt_s: float = 0.0  # time to the first token
    generate_s: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.generate_s if self.generate_s > 0 else 0.0


class LocalModel:
    """A provider: renders the conversation (ChatML, or a GGUF file's own template), continues `options.prefill` if given, and
    keeps the state of the first `options.shared_prefix` messages (worked examples) cached.
    `few_shot` and `prefill` configure the strategy it asks for (`default_strategy`)."""

    supports_prefill = True

    def __init__(self, size: str = "1.5b", *, few_shot: bool = True, prefill: bool = True) -> None:
        """`size`: one of the embedded models (1.5b, 0.5b), or the path of a GGUF file."""
        from agent.models.gguf_file import checked_gguf, file_identity, is_path_spec
        from agent.weights import spec_for

        self.path = None
        if is_path_spec(size):
            self.path = checked_gguf(size)
            self.size = self.key = str(self.path)
            self.identity = file_identity(self.path)
            self.spec = f"local:{size}"
        else:
            try:
                gguf = spec_for(size)
            except Exception as e:  # WeightsError: unknown size
                raise ModelError(str(e)) from e
            self.size = self.key = gguf.size
            self.identity = gguf.sha256
            self.spec = "local" if self.size == "1.5b" else f"local:{self.size}"
        self.few_shot = few_shot
        self.prefill = prefill
        self.last_stats = GenerationStats()
        self._template: ChatTemplate | None = None

    def render(self, system: str, history: list[Message], open_turn: bool = True) -> str:
        """The prompt text: ChatML for the embedded models, else the file's own template."""
        if self.path is None:
            return chatml(_messages(system, history), open_turn)
        if self._template is None:
            self._template = ChatTemplate(_load(self.key).llm)
        return self._template.render(_messages(system, history), open_turn)

    def prompt_tokens(self, system: str, history: list[Message]) -> int:
        """Tokens of the prompt for this conversation (loads the model once)."""
        llm = _load(self.key).llm
        text = self.render(system, history)
        return len(llm.tokenize(text.encode(), add_bos=False, special=True))

    def default_strategy(self) -> Any:
        return local_strategy(few_shot=self.few_shot, prefill=self.prefill)

    def generate(
        self,
        system: str,
        history: list[Message],
        *,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None = None,
    ) -> ModelTurn:
        loaded = _load(self.key)
        self._keep_prefix(loaded, system, history[: options.shared_prefix])
        prompt = self.render(system, history)
        if loaded.batched:
            scheduler = scheduler_of(loaded)
            return self._generate(loaded.llm, prompt, code_execution, options, on_text, scheduler)
        with loaded.hold() as llm:
            return self._generate(llm, prompt, code_execution, options, on_text)

    def _keep_prefix(self, loaded: _Loaded, system: str, shots: list[Message]) -> None:
        """Restore (or compute and save) the KV state of the fixed prefix: the system prompt and
        worked examples every solve starts with."""
        from agent.models.prefix_cache import ensure_prefix, state_dir

        if not hasattr(loaded.llm, "_ctx"):  # not a llama_cpp.Llama (a test double)
            return
        text = self.render(system, shots, open_turn=False)
        with loaded.hold() as llm, _aborted_is_cancelled():
            tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
            if loaded.scheduler is not None and loaded.scheduler.holds(tokens):
                return  # a batched sequence has it: new requests copy it from there
            start = time.monotonic()
            how = ensure_prefix(llm, tokens, self.identity, state_dir())
            if how != "cached":
                log.info(
                    "prompt prefix of %d tokens %s in %.2f s",
                    len(tokens),
                    how,
                    time.monotonic() - start,
                )

    def _generate(
        self,
        llm: Any,
        prompt: str,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None,
        scheduler: Scheduler | None = None,
    ) -> ModelTurn:
        """One answer, continuing `options.prefill`: decoded alone through llama_cpp's own
        completion, or with other requests' sequences by the `scheduler`."""
        prefix = options.prefill
        tokens = llm.tokenize((prompt + prefix).encode(), add_bos=False, special=True)
        room = N_CTX - len(tokens)
        if room < 16:
            raise ModelError(
                f"the conversation ({len(tokens)} tokens) no longer fits the local model's "
                f"context of {N_CTX} tokens"
            )
        stats = GenerationStats(prompt_tokens=len(tokens))
        streamer = ProseStreamer()
        text, finish, code_done = prefix, "STOP", False  # the prefill counts as model text
        streamer.feed(prefix)
        start = time.monotonic()
        first: float | None = None
        if _stopping():
            raise Cancelled()
        max_tokens = min(options.max_output_tokens, room)
        if scheduler is None:
            stats.reused_tokens = _common_prefix(llm, tokens)
            chunks = _completion_chunks(llm, tokens, max_tokens, options)
        else:
            request = scheduler.submit(
                tokens,
                max_tokens=max_tokens,
                temperature=options.temperature,
                seed=options.seed or 0,
            )
            chunks = _scheduled_chunks(request)
        with contextlib.closing(chunks), _aborted_is_cancelled():
            for delta, cut in chunks:
                if _stopping():  # checked at every token, streamed or not
                    raise Cancelled()
                if first is None:
                    first = time.monotonic()
                text += delta
                if stop := _stop_string_in(text, len(prefix)):
                    text = text[:stop]
                    break
                if on_text is not None and (shown := streamer.feed(delta)):
                    on_text(shown)
                if cut:
                    finish = "MAX_TOKENS"
                if "\n" in delta and is_degenerate(text):  # a loop: the rest would be more of it
                    finish = "MAX_TOKENS"
                    break
                if code_execution:
                    block = find_code_block(text, at_end=False)
                    if block is not None and block.closed:
                        code_done = True
                        break  # stop generating: the loop runs the code, then we continue
        end = time.monotonic()
        if scheduler is not None:
            stats.reused_tokens = request.reused
        generated = text[len(prefix) :]
        stats.output_tokens = len(llm.tokenize(generated.encode(), add_bos=False, special=True))
        stats.prompt_s = (first or end) - start
        stats.generate_s = end - (first or end)
        self.last_stats = stats
        usage = CallUsage(
            prompt_tokens=stats.prompt_tokens,
            output_tokens=stats.output_tokens,
            reused_tokens=stats.reused_tokens,
            prompt_s=stats.prompt_s,
            generate_s=stats.generate_s,
        )
        log.info(
            "%s: prompt %d tokens (%d reused) in %.2f s, %d tokens at %.1f tokens/s",
            self.spec,
            stats.prompt_tokens,
            stats.reused_tokens,
            stats.prompt_s,
            stats.output_tokens,
            stats.tokens_per_s,
        )
        turn = _to_turn(text, finish, code_done, code_execution, usage)
        if turn.code is None and on_text is not None and (rest := streamer.flush()):
            on_text(rest)
        return turn

    def generate_many(
        self,
        system: str,
        history: list[Message],
        *,
        n: int,
        code_execution: bool,
        options: GenerateOptions,
        temperature: float,
        greedy_first: bool = True,
    ) -> list[ModelTurn]:
        """`n` first answers to the same conversation, decoded as one batch (the first greedy
        unless not `greedy_first`, answer i sampled at `temperature` with seed `options.seed` +
        i): self-consistency at a fraction of n calls' cost."""
        from agent.models.local_batch import sample_continuations

        loaded = _load(self.key)
        prompt = self.render(system, history)
        prefix = options.prefill
        self._keep_prefix(loaded, system, history[: options.shared_prefix])

        def stop(text: str) -> bool:
            full = prefix + text
            if any(s in text for s in CHATML_STOP) or is_degenerate(full):
                return True
            block = find_code_block(full, at_end=False) if code_execution else None
            return block is not None and block.closed

        with loaded.hold() as llm:
            tokens = llm.tokenize((prompt + prefix).encode(), add_bos=False, special=True)
            room = N_CTX - len(tokens) - n * options.max_output_tokens
            batched = room >= 0 and n <= MAX_SEQUENCES
            if batched:
                with _aborted_is_cancelled():
                    outs = sample_continuations(
                        llm,
                        tokens,
                        n,
                        max_tokens=options.max_output_tokens,
                        temperature=temperature,
                        seed=options.seed or 0,
                        stop=stop,
                        cancelled=_stopping,
                        greedy_first=greedy_first,
                    )
                    if _stopping():  # the decoder left early: its texts are unfinished
                        raise Cancelled()
        if not batched:  # one call each (outside the lock, which `generate` takes itself)
            return [
                self.generate(
                    system,
                    history,
                    code_execution=code_execution,
                    options=options.model_copy(
                        update={
                            "temperature": 0.0 if i == 0 and greedy_first else temperature,
                            "seed": (options.seed or 0) + i,
                        }
                    ),
                )
                for i in range(n)
            ]
        turns = []
        for out in outs:
            text = prefix + _cut_at_stop(out.text)
            finish = "MAX_TOKENS" if out.finish == "MAX_TOKENS" or is_degenerate(text) else "STOP"
            usage = CallUsage(prompt_tokens=len(tokens), output_tokens=len(out.tokens))
            block = find_code_block(text, at_end=False) if code_execution else None
            turns.append(
                _to_turn(text, finish, bool(block and block.closed), code_execution, usage)
            )
        return turns


Chunks = Generator[tuple[str, bool], None, None]  # (text, cut at the token limit)


def _completion_chunks(
    llm: Any, tokens: list[int], max_tokens: int, options: GenerateOptions
) -> Chunks:
    stream = llm.create_completion(
        tokens,
        max_tokens=max_tokens,
        temperature=options.temperature,
        seed=options.seed,
        repeat_penalty=1.0,
        stop=CHATML_STOP,
        stream=True,
    )
    with contextlib.closing(stream):
        for chunk in stream:
            choice = chunk["choices"][0]
            yield choice.get("text") or "", choice.get("finish_reason") == "length"


def _scheduled_chunks(request: Request) -> Chunks:
    """The request's text as it is decoded; closing this (or Ctrl-C) cancels the request."""
    try:
        while True:
            try:
                piece = request.pieces.get(timeout=0.05)
            except queue.Empty:
                if _stopping():
                    raise Cancelled() from None
                continue
            if piece is None:
                break
            yield piece, False
        if request.error:
            raise ModelError(f"the local model failed: {request.error}")
        if request.finish == "MAX_TOKENS":
            yield "", True
    finally:
        request.cancel()


def _stop_string_in(text: str, start: int) -> int | None:
    """Where the first stop string in the generated part of `text` begins (llama_cpp's own
    completion never returns them; the batched decoder does)."""
    found = [i for s in CHATML_STOP if (i := text.find(s, start)) >= 0]
    return min(found) if found else None


def _cut_at_stop(text: str) -> str:
    """The text before the first stop string (the batch decoder stops just after it)."""
    cut = min((i for s in CHATML_STOP if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def _to_turn(
    text: str, finish: str, code_done: bool, code_execution: bool, usage: CallUsage
) -> ModelTurn:
    if code_execution:
        block = find_code_block(text, at_end=True)
        # An unclosed block that ended on a stop string ("```output" or end of turn) is
        # complete; one cut by the token limit is not run.
        if block is not None and block.code.strip():
            if block.closed or code_done or finish == "STOP":
                return ModelTurn(
                    text=block.prose, code=block.code, usage=usage, finish_reason="CODE"
                )
    return ModelTurn(text=text, usage=usage, finish_reason=finish)


def _common_prefix(llm: Any, tokens: list[int]) -> int:
    """How many leading prompt tokens llama.cpp already has in its KV cache."""
    return common_length(
        list(getattr(llm, "_input_ids", ())[: getattr(llm, "n_tokens", 0)]), tokens
    )
