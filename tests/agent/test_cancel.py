"""Stopping a running local generation: at the time budget, when the event stream is closed, on
Ctrl-C and at exit (issue 14). The embedded model is a fake that writes code forever, so nothing
but a cancellation can end its call."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from agent import Agent, TextDelta
from agent.models import cancel, local
from agent.models import local_runtime as runtime
from agent.models.base import GenerateOptions, ModelTurn
from agent.models.local import LocalModel


class EndlessLlama:
    """Just enough of llama_cpp.Llama: `prose`, then one new line of code every `delay` seconds,
    forever (until the test ends). `stuck_s`: the first token takes that long and cannot be
    interrupted, like one long llama_decode without an abort callback."""

    def __init__(self, prose: str = "", delay: float = 0.005, stuck_s: float = 0.0) -> None:
        self.prose = prose
        self.delay = delay
        self.stuck_s = stuck_s
        self.tokens = 0
        self.decoding = threading.Event()
        self.closed = False
        self.closed_while_decoding = False
        self.released = threading.Event()  # the test is over: end any generation still running
        self.n_tokens = 0
        self._input_ids: list[int] = []

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = True) -> list[int]:
        return list(range(len(data.split())))

    def create_completion(self, tokens: list[int], **_: object) -> Iterator[dict]:
        self.decoding.set()
        try:
            if self.stuck_s:
                self.released.wait(self.stuck_s)
            if self.prose:
                yield _chunk(self.prose)
            i = 0
            while not self.released.is_set():
                time.sleep(self.delay)
                if self.closed:
                    self.closed_while_decoding = True
                self.tokens += 1
                yield _chunk(f"x{i} = {i} * 2\n")
                i += 1
        finally:
            self.decoding.clear()

    def close(self) -> None:
        if self.decoding.is_set():
            self.closed_while_decoding = True
        self.closed = True

    def wait_decoding(self, tokens: int = 5) -> None:
        deadline = time.monotonic() + 5
        while self.tokens < tokens and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.tokens >= tokens, "the fake model never started"

    def still_decoding(self) -> bool:
        before = self.tokens
        time.sleep(0.1)
        return self.tokens != before


def _chunk(text: str) -> dict:
    return {"choices": [{"text": text, "finish_reason": None}]}


@pytest.fixture
def endless(monkeypatch):
    """Makes the local 0.5B model an EndlessLlama; returns (fake, its _Loaded)."""
    made: list[EndlessLlama] = []
    monkeypatch.setattr(runtime, "_closing", threading.Event(), raising=False)

    def make(**kwargs) -> tuple[EndlessLlama, local._Loaded]:
        fake = EndlessLlama(**kwargs)
        loaded = local._Loaded(fake)
        monkeypatch.setattr(local, "_load", lambda size: loaded)
        monkeypatch.setattr(runtime, "_models", {"0.5b": loaded})
        made.append(fake)
        return fake, loaded

    yield make
    for fake in made:
        fake.released.set()


def _free(loaded: local._Loaded, within: float) -> bool:
    if not loaded.lock.acquire(timeout=within):
        return False
    loaded.lock.release()
    return True


def test_a_local_generation_stops_when_the_time_budget_ends(endless):
    # the first answer starts in a code fence, so none of it is streamed: before, nothing could
    # stop it and the solve waited 15 s past its budget while the model kept decoding
    fake, loaded = endless()
    agent = Agent(LocalModel("0.5b", few_shot=False), time_budget_s=0.5, recheck=0)
    start = time.monotonic()
    result = agent.run("Write a long program.")
    took = time.monotonic() - start
    assert result.finish_reason == "TIME_BUDGET"
    assert took < 0.5 + 1.0, took
    assert _free(loaded, within=0.05)  # the next request gets the model at once
    assert fake.tokens > 0 and not fake.still_decoding()


def test_closing_the_stream_mid_generation_frees_the_model_within_a_second(endless):
    fake, loaded = endless(prose="Let me write it.\n```python\n")
    agent = Agent(LocalModel("0.5b", few_shot=False, prefill=False), recheck=0)
    stream = agent.stream("Write a long program.")
    assert isinstance(next(stream), TextDelta)  # the prose; then code, which is not streamed
    fake.wait_decoding()
    start = time.monotonic()
    stream.close()
    assert _free(loaded, within=1.0 - (time.monotonic() - start))
    assert not fake.still_decoding()


def test_ctrl_c_during_a_local_generation_stops_it(endless):
    fake, loaded = endless()
    agent = Agent(LocalModel("0.5b", few_shot=False), recheck=0)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            agent.run("Write a long program.")
    finally:
        timer.cancel()
    assert time.monotonic() - start < 0.3 + 1.0
    assert _free(loaded, within=0.05)
    assert not fake.still_decoding()


def test_exit_stops_a_running_generation_before_freeing_the_model(endless):
    # a generation nobody cancels (a direct call in a thread of its own), then the atexit hook:
    # it freed the llama.cpp context while the thread was decoding (SIGSEGV, exit 139)
    fake, loaded = endless()
    model = LocalModel("0.5b", few_shot=False)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            model.generate("sys", [], code_execution=False, options=GenerateOptions())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    fake.wait_decoding()
    start = time.monotonic()
    runtime._close_all()
    assert time.monotonic() - start < 1.0
    assert fake.closed and not fake.closed_while_decoding
    worker.join(1.0)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], cancel.Cancelled)


def test_exit_leaks_a_model_that_does_not_stop_decoding_instead_of_freeing_it(endless, monkeypatch):
    fake, loaded = endless(stuck_s=5.0)
    monkeypatch.setattr(runtime, "CLOSE_WAIT_S", 0.2, raising=False)
    model = LocalModel("0.5b", few_shot=False)
    worker = threading.Thread(
        target=lambda: model.generate("sys", [], code_execution=False, options=GenerateOptions()),
        daemon=True,
    )
    worker.start()
    assert fake.decoding.wait(2)
    start = time.monotonic()
    runtime._close_all()
    assert time.monotonic() - start < 0.2 + 0.5
    assert not fake.closed
    assert loaded in runtime._leaked


def test_a_call_waiting_for_the_model_gives_up_when_cancelled(endless):
    fake, loaded = endless()
    model = LocalModel("0.5b", few_shot=False)
    stop = threading.Event()
    loaded.lock.acquire()  # another request is using the model
    try:
        threading.Timer(0.2, stop.set).start()
        start = time.monotonic()
        with cancel.scope(stop), pytest.raises(cancel.Cancelled):
            model.generate("sys", [], code_execution=False, options=GenerateOptions())
        assert time.monotonic() - start < 0.2 + 0.5
    finally:
        loaded.lock.release()
    assert fake.tokens == 0


class _SlowBatch:
    """A backend whose batched first answers take long and stop only when cancelled."""

    spec = "slow-batch"

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    def generate(self, system, history, *, code_execution, options, on_text=None):
        raise AssertionError("the first answers come from generate_many")

    def generate_many(self, system, history, *, n, code_execution, options, temperature, **kw):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if cancel.cancelled():
                self.cancelled.set()
                raise cancel.Cancelled()
            time.sleep(0.01)
        return [ModelTurn(text="Final answer: 1") for _ in range(n)]


def test_sampled_first_answers_stop_at_the_time_budget():
    model = _SlowBatch()
    start = time.monotonic()
    result = Agent(model, samples=3, time_budget_s=0.5).run("q")
    assert result.finish_reason == "TIME_BUDGET"
    assert time.monotonic() - start < 0.5 + 1.0
    assert model.cancelled.is_set()
