"""Gemini's Environments API, as google-genai's `client.environments.create/get/list/delete` call
it, and interactions that run in an environment (`client.interactions.create(environment=...)`).

    POST   /v1/environments            body: sources (inline only), from_environment, mode
                                       (on_demand), network ("disabled")
    GET    /v1/environments?page_size=&page_token=
    GET    /v1/environments/{id}
    DELETE /v1/environments/{id}       (also under /v1beta)

An interaction's `environment` is an id (`ID` or `environments/ID`) or an object (`type:
"remote"`, `environment_id`, `sources`); an object without `environment_id` creates a new
environment, and the interaction answers its id in `environment`. The run executes in the
environment's session (environments.py); its metadata and files live in the server's data
directory (env_store.py). Limits: `--max-environments` per API key (429 beyond),
`--env-suspend-after` idle seconds before a session is suspended, `--env-ttl-hours` unused
before an environment is deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from agent.server import files_api
from agent.server.config import ServerConfig
from agent.server.env_store import EnvStore, env_id_of, source_files
from agent.server.environments import EnvManager
from agent.server.errors import ApiError, invalid, not_found
from agent.server.paging import page_of
from agent.server.wire import ParsedRequest

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50


def register(app: FastAPI, config: ServerConfig) -> None:
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(the_app: Any) -> AsyncIterator[Any]:
        async with inner(the_app) as state:
            yield state
        manager = getattr(app.state, "environments", None)
        if manager is not None:  # save open sessions' files, close them
            manager.close()

    app.router.lifespan_context = lifespan

    @app.post("/{version}/environments")
    async def create(version: str, request: Request) -> dict[str, Any]:
        from agent.server import http

        _guard(request, version, config)
        body = await http._read_json(request, config.max_body_bytes)
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload: the request body must be a JSON object.")
        manager = manager_of(request)
        owner = files_api.owner_of(request, config)
        return _create(manager, owner, body)

    @app.get("/{version}/environments")
    async def list_environments(version: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        manager = manager_of(request)
        records = manager.store.list(files_api.owner_of(request, config))
        page, token = page_of(
            records, request.query_params, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE
        )
        out: dict[str, Any] = {
            "environments": [manager.store.to_json(r, manager.state(r)) for r in page]
        }
        if token:
            out["next_page_token"] = token
        return out

    @app.get("/{version}/environments/{env_id}")
    async def get(version: str, env_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        manager = manager_of(request)
        record = manager.store.get(files_api.owner_of(request, config), env_id)
        return manager.store.to_json(record, manager.state(record))

    @app.delete("/{version}/environments/{env_id}")
    async def delete(version: str, env_id: str, request: Request) -> dict[str, Any]:
        _guard(request, version, config)
        manager_of(request).delete(files_api.owner_of(request, config), env_id)
        return {}


def manager_of(request: Request) -> EnvManager:
    """The app's environment manager, made on first use."""
    app = request.app
    manager: EnvManager | None = getattr(app.state, "environments", None)
    if manager is None:
        config: ServerConfig = app.state.config
        store = EnvStore(files_api.store_of(request), config.environment_ttl_s)
        manager = EnvManager(store, config.environment_idle_s, config.max_environments)
        app.state.environments = manager
    return manager


def _create(manager: EnvManager, owner: str, body: dict[str, Any]) -> dict[str, Any]:
    for key in ("custom_config", "system_instruction", "env"):
        if body.get(key):
            raise invalid(f"{key}: only for self_hosted environments, which this server lacks")
    if body.get("mode") not in (None, "on_demand"):
        raise invalid(f"mode: {body['mode']!r} is not supported; this server runs on_demand")
    if body.get("network") not in (None, "disabled"):
        raise invalid("network: the sandbox has no network; only 'disabled' is supported")
    files = source_files(body.get("sources"))
    source = body.get("from_environment")
    if source:
        if body.get("sources"):
            raise invalid("from_environment: sources must be empty when copying an environment")
        files = manager.store.saved_files(manager.store.get(owner, str(source)).id)
    config = {"sources": body["sources"]} if body.get("sources") else {}
    record = manager.store.create(owner, config, manager.limit)
    if files:
        manager.store.save_files(record.id, files)
    return manager.store.to_json(record, manager.state(record))


def interaction_environment(request: Request, owner: str, value: Any) -> str | None:
    """The id of the environment an interaction runs in (made now if the object has no id)."""
    if value is None or value == "":
        return None
    manager = manager_of(request)
    if isinstance(value, str):
        return manager.store.get(owner, env_id_of(value)).id
    if not isinstance(value, dict):
        raise invalid("environment: an environment id or an object")
    if value.get("type", "remote") != "remote":
        raise invalid(f"environment.type: {value.get('type')!r} is not supported; use remote")
    env_id = value.get("environment_id")
    if env_id:
        if value.get("sources"):
            raise invalid("environment.sources: only when creating an environment")
        return manager.store.get(owner, env_id_of(str(env_id))).id
    body = {k: v for k, v in value.items() if k not in ("type", "environment_id")}
    return str(_create(manager, owner, body)["id"])


def opener(
    request: Request, spec: str, name: str, parsed: ParsedRequest, env_id: str, owner: str
) -> tuple[Callable[[], Iterator[Any]], Callable[[], None]]:
    """(what the pool's worker runs: the agent in the environment's session, what stops it)."""
    from agent.loop import Agent
    from agent.models.base import BadModelSpecError, ModelError
    from agent.server import http

    config: ServerConfig = request.app.state.config
    manager = manager_of(request)
    leases: list[Any] = []

    def open_events() -> Iterator[Any]:
        try:
            model = http.get_model(spec)
        except BadModelSpecError as e:
            raise not_found(f"models/{name} is not found: {e}") from None
        except ModelError as e:
            raise ApiError(503, f"models/{name} is not available: {e}") from None
        lease = manager.acquire(owner, env_id)
        try:
            agent = Agent(
                model=model,
                code_execution=parsed.code_execution,
                system_instruction=parsed.system_instruction,
                options=parsed.options,
                max_steps=config.max_steps,
                time_budget_s=config.time_budget_s,
                recheck=0,  # sampled re-solves would run their code in the shared session
                sandbox=lease.sandbox,
            )
            stream = lease.events(agent.stream(parsed.messages))
        except BaseException:
            lease.release()
            raise
        leases.append(lease)
        return stream

    def stop() -> None:
        for lease in leases:
            lease.interrupt()

    return open_events, stop


def _guard(request: Request, version: str, config: ServerConfig) -> None:
    from agent.server import http

    http._check_version(version)
    http._check_key(request, config)
