"""Gemini's Live API as `client.aio.live.connect(model=..., config=...)` speaks it: the
`BidiGenerateContent` websocket, text modality only.

    WS /ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent

The SDK always connects with wss:// (it swaps the base URL's scheme), so `serve` needs
`--ssl-certfile`/`--ssl-keyfile` for Live. Messages (JSON text frames, as the SDK sends them):
- first `{"setup": {"model", "generationConfig", "systemInstruction", "tools"}}`, answered
  `{"setupComplete": {}}`; `tools` may hold `codeExecution` and `functionDeclarations`;
- `{"client_content": {"turns": [...], "turnComplete": true}}` and `{"realtime_input":
  {"text": ...}}` add user turns; a complete turn runs the agent over the whole conversation
  and streams `{"serverContent": {"modelTurn": {"parts": [...]}}}` messages (text deltas,
  `executableCode`, `codeExecutionResult`, images), then `{"serverContent":
  {"generationComplete": true, "turnComplete": true}, "usageMetadata": {...}}`;
- the model's function calls come as `{"toolCall": {"functionCalls": [...]}}`; the client's
  `{"tool_response": {"functionResponses": [...]}}` continues the turn;
- new input while a turn is being answered interrupts it: its run (and code) is stopped, what
  it produced stays in the conversation, `{"serverContent": {"interrupted": true}}` is sent and
  the new input is answered.
One model object serves the session; each run gets its own sandbox session (variables do not carry over between runs; the code and
its output are in the conversation). Errors close the socket with code 1007/1008/1011 and the
message as the reason, as Gemini does. Session resumption: with `setup.sessionResumption` the
server sends a `sessionResumptionUpdate` handle at the end of each turn (before `turnComplete`); connecting again with
`sessionResumption.handle` continues that conversation (live_resume.py; it survives a restart).
Not supported: audio and video input or output, context window compression,
`send_context_update`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from agent.events import Done, PartDone, TextDelta
from agent.parts import FunctionCallPart, TextPart, part_to_gemini
from agent.server import files_api
from agent.server.config import ServerConfig
from agent.server.errors import ApiError
from agent.server.live_resume import LiveResume
from agent.server.pool import END
from agent.server.wire import ParsedRequest, parse_request

log = logging.getLogger("agent.server")

PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
MAX_MESSAGE_BYTES = 20 * 2**20


def register(app: FastAPI, config: ServerConfig) -> None:
    @app.websocket(PATH)
    async def live(websocket: WebSocket, version: str) -> None:
        from agent.server import http

        try:
            http._check_version(version)
            http._check_key(websocket, config)  # type: ignore[arg-type]
        except ApiError as e:
            await websocket.close(code=1008, reason=e.message[:120])
            return
        await websocket.accept()
        session = _Session(websocket, config)
        try:
            await session.serve()
        except WebSocketDisconnect:
            pass
        except ApiError as e:
            await _close(websocket, 1007 if e.code == 400 else 1011, e.message)
        except Exception as e:  # noqa: BLE001 - reported to the client as the close reason
            log.error("live session failed", exc_info=e)
            await _close(websocket, 1011, f"Internal error: {type(e).__name__}")


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code=code, reason=reason[:120])
    except RuntimeError:  # already closed
        pass


class _Session:
    def __init__(self, websocket: WebSocket, config: ServerConfig) -> None:
        self.ws = websocket
        self.config = config
        self.contents: list[dict[str, Any]] = []  # the conversation, as wire Contents
        self.setup: dict[str, Any] = {}
        self.spec = ""
        self.model = ""
        self.backend: Any = None  # the model object, built by the first run
        self.pending_calls: set[str] = set()  # function call ids awaiting tool responses
        self.resumable = False  # the client asked for session resumption handles
        self.handle: str | None = None  # the latest handle sent
        self.turn: asyncio.Future[None] | None = None  # the answer being made, if any
        self.partial: list[dict[str, Any]] = []  # the parts of that answer so far

    async def serve(self) -> None:
        first = await self._receive()
        setup = first.get("setup")
        if not isinstance(setup, dict):
            raise ApiError(400, "The first message must be {'setup': {...}}.")
        self._start(setup)
        await self.ws.send_json({"setupComplete": {}})
        receiving = asyncio.ensure_future(self._receive())
        try:
            while True:  # the client may speak while a turn is being answered: it interrupts it
                waiting = {receiving} | ({self.turn} if self.turn else set())
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if self.turn is not None and self.turn in done:
                    turn, self.turn = self.turn, None
                    turn.result()  # an error ends the session (closed with its code)
                if receiving in done:
                    message = receiving.result()
                    receiving = asyncio.ensure_future(self._receive())
                    await self._handle(message)
        finally:
            receiving.cancel()
            if self.turn is not None:
                self.turn.cancel()  # stops the run and its code

    async def _handle(self, message: dict[str, Any]) -> None:
        if "client_content" in message or "clientContent" in message:
            content = message.get("client_content") or message.get("clientContent") or {}
            turns = content.get("turns") or []
            if turns:
                await self._interrupt()
            for turn in turns:
                self.contents.append({"role": turn.get("role") or "user", **turn})
            complete = content.get("turnComplete", content.get("turn_complete", False))
            if complete and self.contents:
                await self._interrupt()
                self._answer()
        elif "realtime_input" in message or "realtimeInput" in message:
            realtime = message.get("realtime_input") or message.get("realtimeInput") or {}
            if realtime.get("text"):
                await self._interrupt()
                self.contents.append({"role": "user", "parts": [{"text": realtime["text"]}]})
                self._answer()
            elif set(realtime) - {"activityStart", "activityEnd", "audioStreamEnd"}:
                raise ApiError(400, "Only text input is supported by this server's Live API.")
        elif "tool_response" in message or "toolResponse" in message:
            reply = message.get("tool_response") or message.get("toolResponse") or {}
            responses = reply.get("functionResponses") or []
            self.contents.append(
                {"role": "user", "parts": [{"functionResponse": r} for r in responses]}
            )
            for r in responses:
                self.pending_calls.discard(str(r.get("id")))
            if not self.pending_calls:
                self._answer()
        else:
            raise ApiError(400, f"Unsupported message: {sorted(message)}")

    def _answer(self) -> None:
        self.turn = asyncio.ensure_future(self._respond())

    async def _interrupt(self) -> None:
        """New input while a turn is being answered: stop it (its run and code), keep what it
        had produced in the conversation, and tell the client, as Gemini does."""
        if self.turn is None or self.turn.done():
            return
        turn, self.turn = self.turn, None
        turn.cancel()
        await asyncio.gather(turn, return_exceptions=True)
        if self.partial:
            self.contents.append({"role": "model", "parts": self.partial})
        self.partial = []
        await self._content({"interrupted": True})

    def _start(self, setup: dict[str, Any]) -> None:
        from agent.server import http

        model = str(setup.get("model") or "")
        spec = self.config.resolve(model)
        if spec is None:
            raise ApiError(400, http._unknown_model(model, self.config).message)
        cfg = dict(setup.get("generationConfig") or setup.get("generation_config") or {})
        modalities = [str(m).upper() for m in cfg.pop("responseModalities", None) or ["TEXT"]]
        if modalities != ["TEXT"]:
            raise ApiError(400, "Only the TEXT response modality is supported by this server.")
        self.setup = {
            "tools": setup.get("tools"),
            "systemInstruction": setup.get("systemInstruction"),
            "generationConfig": {
                k: cfg[k] for k in ("temperature", "maxOutputTokens") if cfg.get(k) is not None
            },
        }
        self.spec, self.model = spec, model.removeprefix("models/")
        resumption = setup.get("sessionResumption", setup.get("session_resumption"))
        if isinstance(resumption, dict):
            self.resumable = True
            if handle := resumption.get("handle"):
                self.contents = self._resume().load(self._owner(), self.model, str(handle))
                self.handle = str(handle)

    def _resume(self) -> LiveResume:
        return LiveResume(files_api.store_of(self.ws))  # type: ignore[arg-type]

    def _owner(self) -> str:
        return files_api.owner_of(self.ws, self.config)  # type: ignore[arg-type]

    async def _send_handle(self) -> None:
        """Keep the conversation under a new handle and tell the client."""
        self.handle = await asyncio.to_thread(
            self._resume().save, self._owner(), self.model, self.contents, self.handle
        )
        update = {"newHandle": self.handle, "resumable": True}
        await self.ws.send_json({"sessionResumptionUpdate": update})

    async def _receive(self) -> dict[str, Any]:
        raw = await self.ws.receive()
        if raw.get("type") == "websocket.disconnect":
            raise WebSocketDisconnect(raw.get("code", 1000))
        data = raw.get("text") if raw.get("text") is not None else raw.get("bytes")
        if data is None or len(data) > MAX_MESSAGE_BYTES:
            raise ApiError(400, "Expected a JSON message of at most 20 MB.")
        try:
            message = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, f"Invalid JSON message: {e}") from None
        if not isinstance(message, dict):
            raise ApiError(400, "Each message must be a JSON object.")
        return message

    async def _respond(self) -> None:
        """Run the agent over the conversation; stream its parts; then the turn's end."""
        from agent.server import http

        parsed = parse_request(
            {"contents": self.contents, **self.setup},
            files_api.file_resolver(self.ws),  # type: ignore[arg-type]
        )
        pool = self.ws.app.state.pool
        if not pool.try_admit():
            raise ApiError(429, "Resource has been exhausted: too many requests.")
        run = pool.start(self._opener(parsed), asyncio.get_running_loop())
        parts: list[dict[str, Any]] = []
        self.partial = parts
        calls: list[dict[str, Any]] = []
        usage = None
        error: ApiError | None = None
        try:
            while (item := await run.queue.get()) is not END:
                if isinstance(item, BaseException):
                    error = error or http._api_error(item)
                elif isinstance(item, TextDelta) and item.text:
                    await self._content({"modelTurn": {"parts": [{"text": item.text}]}})
                elif isinstance(item, PartDone):
                    part = part_to_gemini(item.part)
                    parts.append(part)
                    if isinstance(item.part, FunctionCallPart):
                        calls.append(part["functionCall"])
                    elif not isinstance(item.part, TextPart):
                        await self._content({"modelTurn": {"parts": [part]}})
                elif isinstance(item, Done):
                    usage = item.result.usage
        except BaseException:
            run.stop()
            raise
        self.partial = []
        if error is not None:
            raise error
        if parts:
            self.contents.append({"role": "model", "parts": parts})
        if calls:
            for call in calls:
                if not call.get("id"):
                    call["id"] = f"call_{len(self.contents)}_{call.get('name')}"
            self.pending_calls = {str(c["id"]) for c in calls}
            await self.ws.send_json({"toolCall": {"functionCalls": calls}})
            return
        if self.resumable:  # before the turn ends: a client reading this turn sees it
            await self._send_handle()
        message: dict[str, Any] = {
            "serverContent": {"generationComplete": True, "turnComplete": True}
        }
        if usage is not None:
            message["usageMetadata"] = {
                "promptTokenCount": usage.prompt_token_count,
                "responseTokenCount": usage.candidates_token_count,
                "toolUsePromptTokenCount": usage.tool_use_prompt_token_count,
                "totalTokenCount": usage.total_token_count,
            }
        await self.ws.send_json(message)

    def _opener(self, parsed: ParsedRequest) -> Callable[[], Iterator[Any]]:
        """As http._opener, but one model object serves the whole session."""
        from agent.loop import Agent
        from agent.models.base import BadModelSpecError, ModelError
        from agent.server import http

        def open_events() -> Iterator[Any]:
            if self.backend is None:
                try:
                    self.backend = http.get_model(self.spec)
                except BadModelSpecError as e:
                    raise ApiError(400, f"models/{self.model} is not found: {e}") from None
                except ModelError as e:
                    raise ApiError(503, f"models/{self.model} is not available: {e}") from None
            agent = Agent(
                model=self.backend,
                code_execution=parsed.code_execution,
                system_instruction=parsed.system_instruction,
                options=parsed.options,
                max_steps=self.config.max_steps,
                time_budget_s=self.config.time_budget_s,
            )
            return agent.stream(parsed.messages)

        return open_events

    async def _content(self, server_content: dict[str, Any]) -> None:
        await self.ws.send_json({"serverContent": server_content})
