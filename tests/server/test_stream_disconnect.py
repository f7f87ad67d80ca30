"""A client that goes away mid-stream stops its run and frees its sandbox."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx

REQUEST = {
    "contents": [{"role": "user", "parts": [{"text": "loop for a while"}]}],
    "tools": [{"codeExecution": {}}],
}


def descendant_pids(root: int) -> set[int]:
    """All live descendants of a process, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _wait_for(condition, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_disconnect_mid_stream_frees_the_sandbox(start_server, script, created_models) -> None:
    # distinct code each step: the loop stops a model that repeats itself
    steps = [{"text": "Step.", "code": f"print('tick {i}')", "delay_s": 0.2} for i in range(30)]
    turns = [*steps, {"text": "Final answer: never reached"}]
    warm_up = script([{"text": "", "code": "print(1)"}, {"text": "Final answer: 1"}])
    server = start_server(aliases={"long": script(turns), "warm": warm_up}, max_steps=40)
    pool = server.app.state.pool
    # the first sandbox starts the sandbox's shared fork server; only sessions must go away
    url = f"{server.url}/v1beta/models/warm:generateContent"
    assert httpx.post(url, json=REQUEST, timeout=60).status_code == 200
    before = descendant_pids(os.getpid())
    url = f"{server.url}/v1beta/models/long:streamGenerateContent"
    seen: list[dict] = []
    with httpx.stream("POST", url, params={"alt": "sse"}, json=REQUEST, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
            if any("codeExecutionResult" in json.dumps(c) for c in seen):
                break  # leave after the first result: the stream is closed here
        running = descendant_pids(os.getpid()) - before
        assert running, "no sandbox session process seen while the run was going"
    assert pool.admitted in (0, 1)
    assert _wait_for(lambda: pool.admitted == 0), "the run was not stopped"
    model = created_models[-1]
    assert len(model.calls) < 10, "the run went on after the client left"
    leftover = lambda: descendant_pids(os.getpid()) - before  # noqa: E731
    assert _wait_for(lambda: not leftover()), f"sandbox processes left: {leftover()}"


def test_stream_without_alt_sse_is_a_json_array(start_server, script) -> None:
    server = start_server(aliases={"m": script([{"text": "Final answer: 3"}])})
    url = f"{server.url}/v1beta/models/m:streamGenerateContent"
    chunks = httpx.post(url, json=REQUEST, timeout=60).json()
    assert isinstance(chunks, list)
    assert chunks[0]["candidates"][0]["content"]["parts"][0]["text"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] > 0
