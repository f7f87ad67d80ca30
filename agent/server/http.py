"""Gemini-compatible REST API with code execution on any model (`python -m agent serve`).

    POST /v1beta/models/{model}:generateContent
    POST /v1beta/models/{model}:streamGenerateContent?alt=sse
    POST /v1beta/models/{model}:countTokens                  (count_tokens.py)
    POST /upload/v1beta/files, GET/DELETE /v1beta/files[/{id}] (files_api.py)
    POST /v1beta/interactions, GET/DELETE /v1beta/interactions/{id}, POST .../{id}/cancel
                                                             (interactions_api.py)
    POST/GET /v1beta/environments, GET/DELETE /v1beta/environments/{id} (environments_api.py)
    GET /v1beta/environments/{id}/files/{path} (env_files_api.py)
    WS   /ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent (live_api.py)
    GET  /v1beta/models, GET /v1beta/models/{model}          (also under /v1)

Each request runs its own Agent and Sandbox session in a worker thread (see pool.py); errors are
Gemini-style JSON (see errors.py). How `{model}` maps to a model SPEC is described in config.py.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent.events import Done, PartDone, TextDelta
from agent.gemini_json import finish_fields
from agent.loop import Agent
from agent.models import VALID_SPECS, get_model
from agent.models.base import BadModelSpecError, ModelError
from agent.parts import TextPart, part_to_gemini
from agent.server import (
    count_tokens,
    env_files_api,
    environments_api,
    files_api,
    interactions_api,
    live_api,
    safejson,
)
from agent.server.config import ServerConfig
from agent.server.errors import ApiError, invalid, not_found
from agent.server.pool import END, STARTED, Run, RunCancelled, RunPool
from agent.server.responses import chunk_json, response_json, sse
from agent.server.safejson import SafeJSONResponse
from agent.server.webpage import add_webpage
from agent.server.wire import ParsedRequest, parse_request

log = logging.getLogger("agent.server")

API_VERSIONS = ("v1beta", "v1")
METHODS = ("generateContent", "streamGenerateContent")


def create_app(config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()
    pool = RunPool(config.max_concurrency, config.queue_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(title="codexec", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.config = config
    app.state.pool = pool
    _install_error_handlers(app)
    add_webpage(app)
    count_tokens.register(app, config)  # before the catch-all POST /{version}/models/{target}
    files_api.register(app, config)
    interactions_api.register(app, config)
    environments_api.register(app, config)
    env_files_api.register(app, config)
    live_api.register(app, config)

    @app.get("/{version}/models")
    async def list_models(version: str, request: Request) -> dict[str, Any]:
        _check_version(version)
        _check_key(request, config)
        return {"models": [_model_info(n, s) for n, s in config.all_aliases().items()]}

    @app.get("/{version}/models/{name:path}")
    async def get_model_info(version: str, name: str, request: Request) -> dict[str, Any]:
        _check_version(version)
        _check_key(request, config)
        spec = config.resolve(name)
        if spec is None:
            raise _unknown_model(name, config)
        return _model_info(name.removeprefix("models/"), spec)

    @app.post("/{version}/models/{target:path}")
    async def generate(version: str, target: str, request: Request) -> Response:
        _check_version(version)
        _check_key(request, config)
        name, _, method = target.rpartition(":")
        if method not in METHODS or not name:
            raise not_found(f"Method not found: {target!r}; supported: {', '.join(METHODS)}")
        spec = config.resolve(name)
        if spec is None:
            raise _unknown_model(name, config)
        body = await _read_json(request, config.max_body_bytes)
        parsed = parse_request(body, files_api.file_resolver(request))
        if not pool.try_admit():
            raise ApiError(
                429,
                f"Resource has been exhausted: {pool.max_concurrency} requests running and "
                f"{pool.queue_size} queued; retry later.",
            )
        run = pool.start(_opener(spec, name, parsed, config), asyncio.get_running_loop())
        response_id = uuid.uuid4().hex[:24]
        if method == "generateContent":
            return await _answer(request, run, spec, response_id)
        async with _stop_on_disconnect(request, run):
            await _wait_started(run)
        sse_mode = request.query_params.get("alt") == "sse"
        return _RunStreamingResponse(
            run,
            _stream(run, spec, response_id, sse_mode),
            media_type="text/event-stream" if sse_mode else "application/json",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app


def _opener(
    spec: str, name: str, parsed: ParsedRequest, config: ServerConfig
) -> Callable[[], Iterator[Any]]:
    """What the worker thread runs first: build the model and the agent, open its event stream."""

    def open_events() -> Iterator[Any]:
        try:
            model = get_model(spec)
        except BadModelSpecError as e:
            raise not_found(f"models/{name} is not found: {e}") from None
        except ModelError as e:
            raise ApiError(503, f"models/{name} is not available: {e}") from None
        agent = Agent(
            model=model,
            code_execution=parsed.code_execution,
            system_instruction=parsed.system_instruction,
            options=parsed.options,
            max_steps=config.max_steps,
            time_budget_s=config.time_budget_s,
        )
        return agent.stream(parsed.messages)

    return open_events


async def _wait_started(run: Run) -> None:
    item = await run.queue.get()
    if isinstance(item, BaseException):
        raise _api_error(item)
    if item is not STARTED:  # pragma: no cover - the pool always sends STARTED first
        raise ApiError(500, "internal error: run did not start")


class _RunStreamingResponse(StreamingResponse):
    """Stops its run however the response ends (done, error, or the client went away)."""

    def __init__(self, run: Run, content: AsyncIterator[bytes], **kw: Any) -> None:
        super().__init__(content, **kw)
        self.run = run

    async def stream_response(self, send: Any) -> None:
        try:
            await super().stream_response(send)
        finally:
            self.run.stop()


@asynccontextmanager
async def _stop_on_disconnect(request: Request, run: Run) -> AsyncIterator[None]:
    """While inside: stop the run if the client hangs up (or this request is cancelled)."""

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        run.stop()

    watcher = asyncio.create_task(watch())
    try:
        yield
    except BaseException:
        run.stop()
        raise
    finally:
        watcher.cancel()


async def _answer(request: Request, run: Run, model_version: str, response_id: str) -> JSONResponse:
    result = None
    error: ApiError | None = None
    async with _stop_on_disconnect(request, run):
        while True:
            item = await run.queue.get()
            if item is END:
                break
            if isinstance(item, BaseException):
                error = error or _api_error(item)
            elif isinstance(item, Done):
                result = item.result
    if error is not None:
        raise error
    if result is None:
        raise ApiError(500, "internal error: the run ended without a result")
    if result.finish_reason == "ERROR" and not result.parts:
        raise ApiError(
            503, f"The request could not be completed: {result.error or 'unknown error'}"
        )
    return SafeJSONResponse(response_json(result, model_version, response_id))


async def _stream(
    run: Run, model_version: str, response_id: str, sse_mode: bool
) -> AsyncIterator[bytes]:
    """SSE chunks (or, without alt=sse, a JSON array of chunks) as the agent's events arrive."""
    first = True

    def emit(data: dict[str, Any]) -> bytes:
        nonlocal first
        if sse_mode:
            return sse(data)
        prefix = b"[" if first else b",\r\n"
        first = False
        return prefix + safejson.dumps(data)

    def chunk(parts: list[dict[str, Any]] | None, **kw: Any) -> bytes:
        return emit(chunk_json(parts, model_version, response_id, **kw))

    streamed_text = ""  # text deltas since the last complete part
    try:
        while True:
            item = await run.queue.get()
            if item is END:
                break
            if isinstance(item, BaseException):
                yield emit(_api_error(item).to_json())
            elif isinstance(item, TextDelta):
                if item.text:
                    streamed_text += item.text
                    yield chunk([{"text": item.text}])
            elif isinstance(item, PartDone):
                part = item.part
                if isinstance(part, TextPart):
                    rest = _unsent_text(part.text, streamed_text)
                    if rest:
                        yield chunk([{"text": rest}])
                else:
                    yield chunk([part_to_gemini(part)])
                streamed_text = ""
            elif isinstance(item, Done):
                r = item.result
                yield chunk(None, finish=finish_fields(r.finish_reason, r.error), usage=r.usage)
        if not sse_mode:
            yield b"[]" if first else b"]"
    finally:
        run.stop()  # the client went away (or we are done): stop the run, free its sandbox


def _unsent_text(full: str, streamed: str) -> str:
    """What of a finished text part was not already sent as deltas."""
    if not streamed:
        return full
    return full[len(streamed) :] if full.startswith(streamed) else ""


def _api_error(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RunCancelled):
        return ApiError(503, f"The request was not run: {exc}")
    if isinstance(exc, ModelError):
        return ApiError(503, f"The model failed: {exc}")
    if isinstance(exc, (ValueError, FileNotFoundError)):
        return invalid(str(exc))
    log.error("request failed", exc_info=exc)
    return ApiError(500, f"Internal error: {type(exc).__name__}: {exc}")


async def _read_json(request: Request, limit: int) -> Any:
    too_big = ApiError(413, f"Request payload size exceeds the limit: {limit} bytes.")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_big
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_big
    if not body:
        raise invalid("Invalid JSON payload: the request body is empty.")
    return safejson.parse_body(bytes(body))


def _check_version(version: str) -> None:
    if version not in API_VERSIONS:
        raise not_found(f"Unknown API version {version!r}; use v1beta or v1.")


def _check_key(request: Request, config: ServerConfig) -> None:
    if not config.api_key:
        return
    auth = request.headers.get("authorization", "")
    given = (
        request.headers.get("x-goog-api-key")
        or request.query_params.get("key")
        or (auth[7:].strip() if auth.lower().startswith("bearer ") else None)
    )
    if not given:
        raise ApiError(
            401,
            "Method doesn't allow unregistered callers. Please pass an API key "
            "(x-goog-api-key header or key query parameter).",
        )
    if not hmac.compare_digest(given.encode(), config.api_key.encode()):
        raise ApiError(403, "API key not valid. Please pass a valid API key.")


def _unknown_model(name: str, config: ServerConfig) -> ApiError:
    name = name.removeprefix("models/")
    if config.aliases_only:
        return not_found(
            f"models/{name} is not found. This server accepts only its model aliases "
            "(GET /v1beta/models lists them)."
        )
    return not_found(
        f"models/{name} is not found. Use an alias (GET /v1beta/models lists them) or a model "
        f"SPEC: {VALID_SPECS}."
    )


def _model_info(name: str, spec: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "displayName": name,
        "description": f"codexec: {spec}",
        "supportedGenerationMethods": [*METHODS, "countTokens"],
    }


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 404:
            message = "Not found. This server serves /v1beta/models/{model}:generateContent."
        return ApiError(exc.status_code, message).response(getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid(f"Invalid request: {exc.errors()[:3]}").response()

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return ApiError(500, f"Internal error: {type(exc).__name__}").response()
