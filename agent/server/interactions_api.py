"""Gemini's Interactions API, as `client.interactions.create/get/cancel/delete` call it.

    POST   /v1beta/interactions              (the SDK uses /v1/interactions; both are served)
    GET    /v1beta/interactions/{id}         (?stream=true&last_event_id=N: its events as SSE)
    POST   /v1beta/interactions/{id}/cancel
    DELETE /v1beta/interactions/{id}

`create` takes `model`, `input` (a string, content items, or steps), `system_instruction`,
`tools` (`{"type": "code_execution"}`, `{"type": "function", ...}`), `generation_config`
(`temperature`, `max_output_tokens`), `previous_interaction_id` (continue a stored one), `store`
(default true), `stream` and `background`. Without those two it runs the agent to the end and
answers one Interaction whose `steps` are the input's steps, then `model_output`,
`code_execution_call` and `code_execution_result` steps as the model and the sandbox produced
them. `stream: true` answers server-sent events as the run goes (interactions_stream.py; the
run stops if the client goes away); `background: true` answers at once with status
`in_progress` while the run goes on in the server (`get` shows its steps so far, then its end;
`cancel` stops it and kills its code). `environment` (an environment's id, or an object;
environments_api.py) runs the code in that environment's lasting session.
Interactions are kept in the server's SQLite store (store.py) until deleted, per API key.
Not supported (400): `agent`, `agent_config`, other tools. Content items with a `uri` name files
uploaded to this server.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from agent.events import Done
from agent.parts import Message
from agent.server import environments_api, files_api
from agent.server.config import ServerConfig
from agent.server.errors import ApiError, invalid
from agent.server.interactions_jobs import HISTORY, SUMMARY_KEYS, Job, Jobs, usage_json
from agent.server.interactions_steps import (
    input_steps,
    output_steps,
    status_of,
    wire_content,
    wire_generation_config,
    wire_tools,
)
from agent.server.interactions_stream import DONE, sse, step_events
from agent.server.pool import END, Run
from agent.server.store import rfc3339
from agent.server.wire import parse_request

_UNSUPPORTED = ("agent", "agent_config")
_INPUT_KINDS = ("user_input", "function_result")
CANCEL_WAIT_S = 30.0


def register(app: FastAPI, config: ServerConfig) -> None:
    @app.post("/{version}/interactions", response_model=None)
    async def create(version: str, request: Request) -> dict[str, Any] | StreamingResponse:
        from agent.server import http

        _guard(request, version, config)
        body = await http._read_json(request, config.max_body_bytes)
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload: the request body must be a JSON object.")
        for key in _UNSUPPORTED:
            if body.get(key):
                raise invalid(f"{key}: not supported by this server's Interactions API")
        stream, background = bool(body.get("stream")), bool(body.get("background"))
        keep = body.get("store", True) is not False
        if background and not keep:
            raise invalid("background: needs store=true (its result is read with get)")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise invalid("model: required (a model name, as for generateContent)")
        spec = config.resolve(model)
        if spec is None:
            raise http._unknown_model(model, config)
        store = files_api.store_of(request)
        owner = files_api.owner_of(request, config)
        history: list[Message] = []
        previous = body.get("previous_interaction_id")
        if previous:
            history = HISTORY.validate_python(store.get_interaction(owner, str(previous))[1])
        steps = input_steps(body.get("input"))
        wire_body = {
            "contents": [c for s in steps if (c := wire_content(s)) is not None],
            "tools": wire_tools(body.get("tools")),
            "systemInstruction": body.get("system_instruction"),
            "generationConfig": wire_generation_config(body.get("generation_config")),
        }
        parsed = parse_request(wire_body, files_api.file_resolver(request))
        parsed.messages = history + parsed.messages
        env_id = environments_api.interaction_environment(request, owner, body.get("environment"))
        run = _start(request, config, spec, model, parsed, env_id)
        created = rfc3339(store.clock())
        record: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "object": "interaction",
            "model": model,
            "status": "in_progress",
            "created": created,
            "updated": created,
            "steps": steps,
        }
        if previous:
            record["previous_interaction_id"] = previous
        if env_id:
            record["environment"] = env_id
        if body.get("system_instruction"):
            record["system_instruction"] = body["system_instruction"]
        if stream or background:
            if stream and not background:  # a bad model fails as an HTTP error, before the stream
                async with http._stop_on_disconnect(request, run):
                    await http._wait_started(run)
            job = Job(
                record, run=run, store=store, owner=owner, history=parsed.messages, keep=keep,
                background=background,
            )  # fmt: skip
            jobs_of(request).start(job)
            if stream:
                return _JobStreamingResponse(job, job.follow(), cancel_on_close=not background)
            return dict(record)
        result = await _collect(request, run)
        record["status"] = status_of(result.finish_reason, result.parts)
        record["steps"] = steps + output_steps(result.parts)
        record["usage"] = usage_json(result.usage)
        if keep:
            after = [*parsed.messages, Message(role="model", parts=list(result.parts))]
            store.put_interaction(owner, record, HISTORY.dump_python(after, mode="json"))
        return record

    @app.get("/{version}/interactions/{interaction_id}", response_model=None)
    async def get(
        version: str, interaction_id: str, request: Request
    ) -> dict[str, Any] | StreamingResponse:
        _guard(request, version, config)
        owner = files_api.owner_of(request, config)
        job = jobs_of(request).get(owner, interaction_id)  # (store=false ones are not found)
        if request.query_params.get("stream", "false").lower() == "true":
            after = _event_number(request.query_params.get("last_event_id"))
            if job is not None:
                return _JobStreamingResponse(job, job.follow(after), cancel_on_close=False)
            record = files_api.store_of(request).get_interaction(owner, interaction_id)[0]
            return _JobStreamingResponse(None, _replay(record, after), cancel_on_close=False)
        return files_api.store_of(request).get_interaction(owner, interaction_id)[0]

    @app.post("/{version}/interactions/{interaction_id}/cancel")
    async def cancel(version: str, interaction_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        owner = files_api.owner_of(request, config)
        job = jobs_of(request).get(owner, interaction_id)
        if job is not None and not job.finished:
            if not job.background:
                raise _precondition(
                    f"Interaction {interaction_id} is not a background interaction: only "
                    "background interactions can be cancelled (close its stream to stop it)."
                )
            job.cancel()
            if not await job.wait(CANCEL_WAIT_S):
                raise ApiError(503, "The interaction did not stop in time; retry the cancel.")
            return dict(job.record)
        store = files_api.store_of(request)
        record, history = store.get_interaction(owner, interaction_id)
        if record.get("status") == "cancelled":
            return record  # cancelling twice is not an error
        if record.get("status") == "in_progress":  # not running here (another process's)
            record["status"] = "cancelled"
            store.put_interaction(owner, record, history)
            return record
        raise _precondition(
            f"Interaction {interaction_id} is {record.get('status')}: only background "
            "interactions that are still running can be cancelled."
        )

    @app.delete("/{version}/interactions/{interaction_id}")
    async def delete(version: str, interaction_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        owner = files_api.owner_of(request, config)
        jobs = jobs_of(request)
        job = jobs.get(owner, interaction_id)
        if job is not None:
            job.deleted = True  # a running one stops, and writes no more
            job.cancel()
            jobs.forget(interaction_id)
        files_api.store_of(request).delete_interaction(owner, interaction_id)
        return {}


def jobs_of(request: Request) -> Jobs:
    state = request.app.state
    jobs = getattr(state, "interaction_jobs", None)
    if jobs is None:
        jobs = state.interaction_jobs = Jobs()
    return jobs


class _JobStreamingResponse(StreamingResponse):
    """SSE; a foreground job is cancelled however its response ends (the client went away)."""

    def __init__(self, job: Job | None, content: Any, *, cancel_on_close: bool) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.job = job if cancel_on_close else None

    async def stream_response(self, send: Any) -> None:
        try:
            await super().stream_response(send)
        finally:
            if self.job is not None:
                self.job.cancel()


async def _replay(record: dict[str, Any], after: int) -> Any:
    """A stored interaction's events (from no job of this server): its output steps whole."""
    steps = list(record.get("steps") or [])
    while steps and steps[0].get("type") in _INPUT_KINDS:
        steps.pop(0)
    summary = {k: record[k] for k in SUMMARY_KEYS if k in record}
    status = {"interaction_id": record["id"], "status": record.get("status")}
    running = {**status, "status": "in_progress"}
    events: list[dict[str, Any]] = [
        {"event_type": "interaction.created", "interaction": {**summary, "status": "in_progress"}},
        {"event_type": "interaction.status_update", **running},
    ]
    for index, step in enumerate(steps):
        events += step_events(index, step)
    events.append({"event_type": "interaction.status_update", **status})
    if record.get("status") == "failed" and record.get("errors"):
        events.append({"event_type": "error", "error": record["errors"][0]})
    else:
        events.append({"event_type": "interaction.completed", "interaction": summary})
    for number, event in enumerate(events, 1):
        if number > after:
            event["event_id"] = str(number)
            yield sse(event)
    yield DONE


def _event_number(value: str | None) -> int:
    if not value:
        return 0
    if not value.isdigit():
        raise invalid(f"last_event_id: {value!r} is not an event id of this server")
    return int(value)


def _start(
    request: Request, config: ServerConfig, spec: str, name: str, parsed: Any, env_id: str | None
) -> Run:
    """Start the agent in the server's pool (admission, 429); in the environment's session if
    `env_id` names one."""
    from agent.server import http

    pool = request.app.state.pool
    if not pool.try_admit():
        raise ApiError(429, "Resource has been exhausted: too many requests; retry later.")
    if env_id is None:
        return pool.start(http._opener(spec, name, parsed, config), asyncio.get_running_loop())
    owner = files_api.owner_of(request, config)
    open_events, stop = environments_api.opener(request, spec, name, parsed, env_id, owner)
    run = pool.start(open_events, asyncio.get_running_loop())
    stop_run = run.stop
    run.stop = lambda: (stop_run(), stop())  # type: ignore[method-assign]
    return run


async def _collect(request: Request, run: Run) -> Any:
    """The run's result (its client going away stops it)."""
    from agent.server import http

    result, error = None, None
    async with http._stop_on_disconnect(request, run):
        while (item := await run.queue.get()) is not END:
            if isinstance(item, BaseException):
                error = error or http._api_error(item)
            elif isinstance(item, Done):
                result = item.result
    if error is not None:
        raise error
    if result is None:
        raise ApiError(500, "internal error: the run ended without a result")
    if result.finish_reason == "ERROR" and not result.parts:
        raise ApiError(503, f"The request could not be completed: {result.error or 'unknown'}")
    return result


def _precondition(message: str) -> ApiError:
    return ApiError(400, message, "FAILED_PRECONDITION")


def _guard(request: Request, version: str, config: ServerConfig) -> None:
    from agent.server import http

    http._check_version(version)
    http._check_key(request, config)
