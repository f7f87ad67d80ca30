"""Interactions that run while their events are streamed, or in the background (`background=True`).

A Job drives one run of the server's pool (pool.py) from an asyncio task: it turns the agent's
events into the Interactions API's SSE events (interactions_stream.py), keeps them for every
reader (`create(stream=True)`, `get(id, stream=True)`, resumable from an event id), and keeps the
interaction's record in the SQLite store (store.py) as it goes: status `in_progress` with the
steps so far, then `completed` / `requires_action` / `incomplete` / `failed` / `cancelled` with
the usage. `cancel()` stops the run and kills the code it is running. A foreground streamed
interaction is cancelled when its client goes away; a background one runs on.
The store marks interactions left `in_progress` by a server that stopped as failed
(Store.fail_unfinished_interactions, called when the app opens its store).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import TypeAdapter

from agent.events import Done
from agent.parts import Message
from agent.server.errors import ApiError
from agent.server.interactions_steps import status_of
from agent.server.interactions_stream import DONE, StepStream, sse
from agent.server.pool import END, STARTED, Run
from agent.server.store import Store, rfc3339

HISTORY = TypeAdapter(list[Message])
FINISHED_KEPT = 64  # finished jobs kept in memory (their events replay to late readers)
SUMMARY_KEYS = ("id", "status", "object", "model", "created", "updated", "usage")


class Job:
    def __init__(
        self,
        record: dict[str, Any],
        *,
        run: Run,
        store: Store,
        owner: str,
        history: list[Message],
        keep: bool,
        background: bool,
    ) -> None:
        self.record = record  # the Interaction JSON as it stands
        self.input_steps = list(record["steps"])
        self.run = run
        self.store = store
        self.owner = owner
        self.history = history  # the conversation the run was given
        self.keep = keep  # store=true: the record is written to the store
        self.background = background
        self.events: list[dict[str, Any]] = []
        self.finished = False
        self.cancelled = False
        self.deleted = False
        self._changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return str(self.record["id"])

    def cancel(self) -> None:
        """Stop the run (its running code is killed); the record ends `cancelled`."""
        if not self.finished:
            self.cancelled = True
            self.run.stop()

    async def wait(self, timeout_s: float) -> bool:
        """Until the run has ended (True), or `timeout_s` passed (False)."""
        if self.task is None:
            return self.finished
        done, _ = await asyncio.wait({self.task}, timeout=timeout_s)
        return bool(done)

    async def follow(self, after: int = 0) -> AsyncIterator[bytes]:
        """The events after the `after`-th as SSE, live until the run ends, then `[DONE]`."""
        i = after
        while True:
            while i < len(self.events):
                yield sse(self.events[i])
                i += 1
            if self.finished:
                break
            async with self._changed:
                await self._changed.wait_for(self._news(i))
        yield DONE

    def _news(self, seen: int) -> Callable[[], bool]:
        return lambda: len(self.events) > seen or self.finished

    # --- the driver ----------------------------------------------------------------------------

    async def drive(self) -> None:
        """Read the run's queue to its END; emit events; keep the record."""
        steps = StepStream()
        result, error = None, None
        await self._emit({"event_type": "interaction.created", "interaction": self._summary()})
        await self._emit(self._status_event())
        try:
            while (item := await self.run.queue.get()) is not END:
                if item is STARTED:
                    continue
                if isinstance(item, BaseException):
                    error = error or _api_error(item)
                    continue
                if isinstance(item, Done):
                    result = item.result
                    events = steps.close()
                else:
                    events = steps.feed(item)
                for event in events:
                    await self._emit(event)
                if any(e["event_type"] == "step.stop" for e in events):
                    self.record["steps"] = self.input_steps + steps.steps
                    self.save()  # progress, for get()
        except asyncio.CancelledError:  # the server is shutting down
            self.run.stop()
            error = ApiError(503, "The server stopped while this interaction was running.")
            raise
        finally:
            await self._finish(steps, result, error)

    async def _finish(self, steps: StepStream, result: Any, error: ApiError | None) -> None:
        for event in steps.close():
            await self._emit(event)
        record = self.record
        record["steps"] = self.input_steps + steps.steps
        record["updated"] = rfc3339(self.store.clock())
        parts = list(result.parts) if result is not None else steps.parts
        if self.cancelled:
            record["status"] = "cancelled"
        elif result is not None and not (result.finish_reason == "ERROR" and not result.parts):
            record["status"] = status_of(result.finish_reason, list(result.parts))
        else:
            record["status"] = "failed"
        if record["status"] == "failed":
            if error is None:
                detail = result.error if result is not None else None
                error = ApiError(503, f"The request could not be completed: {detail or 'unknown'}")
            record["errors"] = [{"code": error.status, "message": error.message}]
        if result is not None:
            record["usage"] = usage_json(result.usage)
        after = self.history + ([Message(role="model", parts=parts)] if parts else [])
        self.save(after)
        await self._emit(self._status_event())
        if record["status"] == "failed":
            await self._emit({"event_type": "error", "error": record["errors"][0]})
        else:
            await self._emit(
                {"event_type": "interaction.completed", "interaction": self._summary()}
            )
        self.finished = True
        async with self._changed:
            self._changed.notify_all()

    async def _emit(self, event: dict[str, Any]) -> None:
        event["event_id"] = str(len(self.events) + 1)
        self.events.append(event)
        async with self._changed:
            self._changed.notify_all()

    def save(self, history: list[Message] | None = None) -> None:
        if self.keep and not self.deleted:
            dumped = HISTORY.dump_python(history or self.history, mode="json")
            self.store.put_interaction(self.owner, self.record, dumped)

    def _summary(self) -> dict[str, Any]:
        return {k: self.record[k] for k in SUMMARY_KEYS if k in self.record}

    def _status_event(self) -> dict[str, Any]:
        status = self.record["status"]
        return {
            "event_type": "interaction.status_update",
            "interaction_id": self.id,
            "status": status,
        }


class Jobs:
    """The app's jobs by interaction id: running ones, and the last finished ones."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def start(self, job: Job) -> Job:
        self._jobs[job.id] = job
        job.save()  # get() finds it at once
        job.task = asyncio.get_running_loop().create_task(job.drive())
        job.task.add_done_callback(lambda _t: self._trim())
        return job

    def get(self, owner: str, interaction_id: str) -> Job | None:
        """A stored interaction's job (store=false ones are known to their stream only)."""
        job = self._jobs.get(interaction_id)
        return job if job is not None and job.owner == owner and job.keep else None

    def forget(self, interaction_id: str) -> None:
        self._jobs.pop(interaction_id, None)

    def _trim(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished]
        for job in finished[: max(0, len(finished) - FINISHED_KEPT)]:
            self._jobs.pop(job.id, None)

    def stop_all(self) -> None:
        for job in list(self._jobs.values()):
            if job.task is not None and not job.task.done():
                job.run.stop()


def usage_json(usage: Any) -> dict[str, Any]:
    return {
        "total_input_tokens": usage.prompt_token_count,
        "total_output_tokens": usage.candidates_token_count,
        "total_tool_use_tokens": usage.tool_use_prompt_token_count,
        "total_tokens": usage.total_token_count,
    }


def _api_error(exc: BaseException) -> ApiError:
    from agent.server import http

    return http._api_error(exc)
