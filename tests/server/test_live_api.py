"""Live API (BidiGenerateContent over wss) with the official google-genai client, scripted model."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import types

CODE_THEN_ANSWER = [
    {"text": "Computing.", "code": "print(6 * 7)"},
    {"text": "The answer is 42."},
]
CALL_THEN_ANSWER = [
    {"text": "", "code": "print(300)", "function_calls": [{"name": "rate", "args": {}}]},
    {"text": "300 units at 1.5 is 450."},
]


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _client(url: str, cert: Path, api_key: str = "k") -> genai.Client:
    context = ssl.create_default_context(cafile=str(cert))
    options = types.HttpOptions(base_url=url, async_client_args={"ssl": context})
    return genai.Client(api_key=api_key, http_options=options)


async def _turn(session) -> list[types.LiveServerMessage]:
    messages = []
    async for message in session.receive():  # one turn (receive stops at turnComplete)
        messages.append(message)
        if message.tool_call:
            break
    return messages


def _parts(messages) -> list[types.Part]:
    return [
        p
        for m in messages
        if m.server_content and m.server_content.model_turn
        for p in m.server_content.model_turn.parts
    ]


def test_live_session_runs_code(tls, start_server, script) -> None:
    cert, key = tls
    server = start_server(
        ssl_certfile=cert,
        ssl_keyfile=key,
        api_key="k",  # the SDK sends it as x-goog-api-key on the websocket too
        aliases={"gemini-live": script(CODE_THEN_ANSWER)},
    )
    assert server.url.startswith("https://")
    r = httpx.get(
        f"{server.url}/v1beta/models?key=k", verify=ssl.create_default_context(cafile=cert)
    )  # REST over TLS too
    assert r.status_code == 200
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        tools=[types.Tool(code_execution=types.ToolCodeExecution())],
    )

    async def talk() -> list[types.LiveServerMessage]:
        client = _client(server.url, cert)
        async with client.aio.live.connect(model="gemini-live", config=config) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="What is 6 * 7?")]),
                turn_complete=True,
            )
            return await _turn(session)

    messages = asyncio.run(talk())

    async def wrong_key() -> None:
        client = _client(server.url, cert, api_key="wrong")
        async with client.aio.live.connect(model="gemini-live", config=config) as session:
            await _turn(session)

    with pytest.raises(Exception, match="(?i)api key|1008|403"):
        asyncio.run(wrong_key())
    parts = _parts(messages)
    assert [p.executable_code.code for p in parts if p.executable_code] == ["print(6 * 7)"]
    [result] = [p.code_execution_result for p in parts if p.code_execution_result]
    assert result.output.strip() == "42"  # run by the real sandbox
    assert result.outcome == types.Outcome.OUTCOME_OK
    text = "".join(p.text for p in parts if p.text)
    assert text == "Computing.The answer is 42."
    assert messages[-1].server_content.turn_complete
    assert messages[-1].usage_metadata.total_token_count > 0


def test_live_function_call_and_tool_response(tls, start_server, script, created_models) -> None:
    cert, key = tls
    server = start_server(
        ssl_certfile=cert, ssl_keyfile=key, aliases={"m": script(CALL_THEN_ANSWER)}
    )
    rate = types.FunctionDeclaration(name="rate", description="The price per unit.")
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        tools=[
            types.Tool(code_execution=types.ToolCodeExecution()),
            types.Tool(function_declarations=[rate]),
        ],
    )

    async def talk() -> tuple[list, list]:
        client = _client(server.url, cert)
        async with client.aio.live.connect(model="m", config=config) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text="Cost of 300 units?")]),
                turn_complete=True,
            )
            first = await _turn(session)
            [call] = first[-1].tool_call.function_calls
            await session.send_tool_response(
                function_responses=[
                    types.FunctionResponse(id=call.id, name=call.name, response={"rate": 1.5})
                ]
            )
            return first, await _turn(session)

    first, second = asyncio.run(talk())
    assert first[-1].tool_call.function_calls[0].name == "rate"
    assert any(p.code_execution_result for p in _parts(first))
    assert "".join(p.text for p in _parts(second) if p.text) == "300 units at 1.5 is 450."
    assert second[-1].server_content.turn_complete
    history = created_models[-1].calls[-1]["history"]
    assert "1.5" in str(history[-1].parts)  # the tool response reached the model


def test_live_session_resumes_after_a_restart(
    tls, start_server, script, created_models, tmp_path
) -> None:
    """sessionResumption: a handle comes with each turn; a new connection with it (to a
    restarted server) continues the conversation; an unknown handle is refused."""
    cert, key = tls

    def start(reply: str):  # a new scripted model each time, as after a restart
        return start_server(
            ssl_certfile=cert,
            ssl_keyfile=key,
            data_dir=tmp_path / "data",
            aliases={"m": script([{"text": reply}])},
        )

    def config(handle: str | None) -> types.LiveConnectConfig:
        return types.LiveConnectConfig(
            response_modalities=["TEXT"],
            session_resumption=types.SessionResumptionConfig(handle=handle),
        )

    async def say(url: str, text: str, handle: str | None) -> list:
        client = _client(url, cert)
        async with client.aio.live.connect(model="m", config=config(handle)) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=text)]),
                turn_complete=True,
            )
            return await _turn(session)

    first_server = start("Noted: 7.")
    first = asyncio.run(say(first_server.url, "Remember the number 7.", None))
    [update] = [m.session_resumption_update for m in first if m.session_resumption_update]
    assert update.resumable and update.new_handle
    first_server.stop()

    second_server = start("It was 7.")
    second = asyncio.run(say(second_server.url, "Which number was it?", update.new_handle))
    assert "".join(p.text for p in _parts(second) if p.text) == "It was 7."
    history = created_models[-1].calls[-1]["history"]
    assert [m.text() for m in history] == [
        "Remember the number 7.",
        "Noted: 7.",
        "Which number was it?",
    ]
    with pytest.raises(Exception, match="(?i)resumption handle"):
        asyncio.run(say(second_server.url, "Hello?", "live-nosuch"))


def test_new_input_interrupts_the_answer_being_made(tls, start_server, script, created_models):
    """Speaking while the model answers stops that answer (`interrupted`), then the new input
    is answered; the slow call does not hold the session up."""
    cert, key = tls
    slow_then_fast = [{"text": "Slow.", "delay_s": 30}, {"text": "Fast answer."}]
    server = start_server(ssl_certfile=cert, ssl_keyfile=key, aliases={"m": script(slow_then_fast)})
    config = types.LiveConnectConfig(response_modalities=["TEXT"])

    async def talk() -> list:
        client = _client(server.url, cert)
        async with client.aio.live.connect(model="m", config=config) as session:
            for text in ("Tell me everything.", "Actually, just the short answer."):
                await session.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text=text)]),
                    turn_complete=True,
                )
                await asyncio.sleep(0.5)
            return await _turn(session)

    start = time.monotonic()
    messages = asyncio.run(talk())
    assert time.monotonic() - start < 10
    flags = [m.server_content.interrupted for m in messages if m.server_content]
    assert True in flags
    assert "".join(p.text for p in _parts(messages) if p.text) == "Fast answer."
    assert messages[-1].server_content.turn_complete
    history = created_models[-1].calls[-1]["history"]
    assert [m.text() for m in history] == [
        "Tell me everything.",
        "Actually, just the short answer.",
    ]


def test_live_refuses_audio_and_unknown_models(tls, start_server, script) -> None:
    cert, key = tls
    server = start_server(
        ssl_certfile=cert, ssl_keyfile=key, aliases_only=True, aliases={"m": script([])}
    )

    async def connect(model: str, modality: str) -> str:
        client = _client(server.url, cert)
        config = types.LiveConnectConfig(response_modalities=[modality])
        try:
            async with client.aio.live.connect(model=model, config=config) as session:
                await _turn(session)
        except Exception as e:  # noqa: BLE001 - the close reason is in the message
            return str(e)
        return ""

    assert "TEXT" in asyncio.run(connect("m", "AUDIO"))
    assert "nosuch" in asyncio.run(connect("nosuch", "TEXT"))


def test_serve_tls_flags(tmp_path: Path) -> None:
    from agent.server.config import parse_args
    from agent.server.serve import uvicorn_options

    config = parse_args(["--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem"])
    options = uvicorn_options(config)
    assert (options["ssl_certfile"], options["ssl_keyfile"]) == ("c.pem", "k.pem")
    with pytest.raises(SystemExit):
        parse_args(["--ssl-certfile", "c.pem"])
    assert "ssl_certfile" not in uvicorn_options(parse_args([]))


@pytest.mark.slow  # the real 1.5B model
def test_live_session_with_the_local_model(tls, start_server) -> None:
    """Issue 15: a Live session (wss, the SDK's `aio.live.connect`) end to end on the real 1.5B:
    the model writes code, the sandbox runs it, the answer comes back in the same turn."""
    cert, key = tls
    server = start_server(ssl_certfile=cert, ssl_keyfile=key, aliases={"gemini-live": "local"})
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"],
        tools=[types.Tool(code_execution=types.ToolCodeExecution())],
    )

    async def talk():
        client = _client(server.url, cert)
        async with client.aio.live.connect(model="gemini-live", config=config) as session:
            await session.send_client_content(
                turns=types.Content(
                    role="user", parts=[types.Part(text="What is 123456 * 654321?")]
                ),
                turn_complete=True,
            )
            return await _turn(session)

    messages = asyncio.run(talk())
    parts = _parts(messages)
    assert any(p.executable_code for p in parts)
    results = [p.code_execution_result for p in parts if p.code_execution_result]
    assert results and "80779853376" in results[0].output
    assert "80779853376" in "".join(p.text for p in parts if p.text)
    assert messages[-1].server_content.turn_complete
