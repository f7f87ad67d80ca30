"""A client that goes away mid-stream stops its run and frees its sandbox."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest
from support import process_alive, wait_until

REQUEST = {
    "contents": [{"role": "user", "parts": [{"text": "loop for a while"}]}],
    "tools": [{"codeExecution": {}}],
}


def _long_script(script) -> str:
    # distinct code each step: the loop stops a model that repeats itself
    steps = [{"text": "Step.", "code": f"print('tick {i}')", "delay_s": 0.2} for i in range(30)]
    return script([*steps, {"text": "Final answer: never reached"}])


def test_disconnect_mid_stream_frees_the_sandbox(
    start_server, script, created_models, sandboxes
) -> None:
    server = start_server(aliases={"long": _long_script(script)}, max_steps=40)
    pool = server.app.state.pool
    url = f"{server.url}/v1beta/models/long:streamGenerateContent"
    seen: list[dict] = []
    with httpx.stream("POST", url, params={"alt": "sse"}, json=REQUEST, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
            if any("codeExecutionResult" in json.dumps(c) for c in seen):
                break  # leave after the first result: the stream is closed here
        [(box, pids)] = sandboxes
        assert pids and all(process_alive(pid) for pid in frozenset(pids))  # running while we read
    assert pool.admitted in (0, 1)
    assert wait_until(lambda: pool.admitted == 0), "the run was not stopped"
    model = created_models[-1]
    assert len(model.calls) < 10, "the run went on after the client left"
    assert box.closed
    assert wait_until(lambda: not any(process_alive(pid) for pid in pids)), "sandbox process left"


def test_client_giving_up_on_generate_content_stops_the_run(
    start_server, script, created_models, sandboxes
) -> None:
    server = start_server(aliases={"long": _long_script(script)}, max_steps=40)
    url = f"{server.url}/v1beta/models/long:generateContent"
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url, json=REQUEST, timeout=1.5)
    assert wait_until(lambda: server.app.state.pool.admitted == 0), "the run was not stopped"
    assert len(created_models[-1].calls) < 15
    [(box, _pids)] = sandboxes
    assert box.closed


def test_stream_without_alt_sse_is_a_json_array(start_server, script) -> None:
    server = start_server(aliases={"m": script([{"text": "Final answer: 3"}])})
    url = f"{server.url}/v1beta/models/m:streamGenerateContent"
    chunks = httpx.post(url, json=REQUEST, timeout=60).json()
    assert isinstance(chunks, list)
    assert chunks[0]["candidates"][0]["content"]["parts"][0]["text"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] > 0


SPIN = "import time\nprint('started', flush=True)\nt = time.time()\nwhile time.time() - t < 25:\n    pass\n"


@pytest.mark.parametrize("method", ["streamGenerateContent", "generateContent"])
def test_disconnect_kills_the_running_code_within_a_second(
    start_server, script, sandboxes, method: str
) -> None:
    turns = [{"text": "", "code": SPIN}, {"text": "Final answer: never"}]
    server = start_server(aliases={"spin": script(turns)})
    pool = server.app.state.pool

    def running() -> list[int]:
        if not sandboxes:
            return []
        proc = sandboxes[0][0]._state.proc
        return [proc.pid] if proc is not None and process_alive(proc.pid) else []

    body = json.dumps(REQUEST).encode()
    head = (
        f"POST /v1beta/models/spin:{method}?alt=sse HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    conn = socket.create_connection(("127.0.0.1", server.port))
    conn.sendall(head.encode() + body)  # a raw client: generateContent answers only at the end
    assert wait_until(lambda: bool(running()), 20), "the code never started"
    time.sleep(0.5)  # it is spinning now
    pid = running()[0]
    left_at = time.monotonic()
    conn.close()  # the client goes away
    assert wait_until(lambda: not process_alive(pid), 5), (
        "the spinning code survived the disconnect"
    )
    stopped_after = time.monotonic() - left_at
    assert stopped_after < 1.0, f"the code ran on for {stopped_after:.2f} s after the disconnect"
    assert wait_until(lambda: pool.admitted == 0, 5), "the worker slot was not freed"
    assert sandboxes[0][0].closed
