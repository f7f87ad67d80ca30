"""The run pool: admission, events in order, cancellation, shutdown."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from agent.server.pool import END, STARTED, RunCancelled, RunPool


async def _drain(run) -> list[Any]:
    items = []
    while (item := await asyncio.wait_for(run.queue.get(), 30)) is not END:
        items.append(item)
    return items


def test_admission_is_bounded_by_concurrency_plus_queue() -> None:
    pool = RunPool(max_concurrency=2, queue_size=1)
    assert [pool.try_admit() for _ in range(4)] == [True, True, True, False]
    assert pool.admitted == 3
    with pytest.raises(ValueError):
        RunPool(max_concurrency=0, queue_size=1)


def test_events_arrive_in_order_and_the_stream_is_closed() -> None:
    closed = threading.Event()

    def events() -> Iterator[int]:
        try:
            yield from range(5)
        finally:
            closed.set()

    async def main() -> list[Any]:
        pool = RunPool(1, 0)
        assert pool.try_admit()
        run = pool.start(events, asyncio.get_running_loop())
        items = await _drain(run)
        assert pool.admitted == 0
        return items

    assert asyncio.run(main()) == [STARTED, 0, 1, 2, 3, 4]
    assert closed.is_set()


def test_errors_are_pushed_and_the_slot_is_freed() -> None:
    def broken() -> Iterator[int]:
        raise ValueError("bad file")

    async def main() -> list[Any]:
        pool = RunPool(1, 0)
        pool.try_admit()
        items = await _drain(pool.start(broken, asyncio.get_running_loop()))
        assert pool.admitted == 0
        return items

    [error] = asyncio.run(main())
    assert isinstance(error, ValueError)


def test_cancel_stops_a_run_and_closes_its_stream() -> None:
    gate, closed = threading.Event(), threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                gate.wait(5)
                yield n
                n += 1
        finally:
            closed.set()

    async def main() -> list[Any]:
        pool = RunPool(1, 0)
        pool.try_admit()
        run = pool.start(endless, asyncio.get_running_loop())
        assert await run.queue.get() is STARTED
        run.cancel.set()
        gate.set()
        return await _drain(run)

    rest = asyncio.run(main())
    assert len(rest) <= 2  # at most the event in flight when cancel was set
    assert closed.is_set()


def test_shutdown_cancels_queued_runs() -> None:
    release = threading.Event()

    def slow() -> Iterator[str]:
        release.wait(10)
        yield "slow done"

    async def main() -> tuple[list[Any], list[Any]]:
        pool = RunPool(1, 1)
        loop = asyncio.get_running_loop()
        assert pool.try_admit() and pool.try_admit()
        first = pool.start(slow, loop)
        second = pool.start(lambda: iter(["never"]), loop)
        assert await first.queue.get() is STARTED
        pool.shutdown()
        release.set()
        return await _drain(first), await _drain(second)

    first, second = asyncio.run(main())
    assert first == ["slow done"]  # a running run ends at its next event
    assert len(second) == 1 and isinstance(second[0], RunCancelled)
