"""Streamed and background interactions with the official google-genai client (scripted model,
real sandbox): the events in order, a client leaving mid-stream, get until done, cancel, restart."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from support import process_alive, wait_until

from agent.server.store import Store

SUM = [
    {"text": "Computing.", "code": "print(sum(range(1, 101)))"},
    {"text": "Final answer: 5050"},
]
SPIN = "import time\nprint('started', flush=True)\nt = time.time()\nwhile time.time() - t < 40:\n    pass\n"
SPINNING = [{"text": "Spinning.", "code": SPIN}, {"text": "Final answer: never"}]
TOOLS = [{"type": "code_execution"}]


def spin_in_background(client: Any, model: str, sandboxes: list) -> Any:
    """A background interaction whose code spins, once its code runs."""
    created = client.interactions.create(model=model, input="x", tools=TOOLS, background=True)
    assert wait_until(lambda: running_pid(sandboxes), 20), "the code never started"
    return created


def running_pid(sandboxes: list) -> int | None:
    """The session process of the latest sandbox, while its code runs."""
    if not sandboxes:
        return None
    proc = sandboxes[-1][0]._state.proc
    return proc.pid if proc is not None and proc.alive else None


def shape(events: list) -> list[tuple[str, ...]]:
    """(event type, step type for step.start / delta type for step.delta) of each event."""
    out: list[tuple[str, ...]] = []
    for e in events:
        if e.event_type == "step.start":
            out.append((e.event_type, e.step.type))
        elif e.event_type == "step.delta":
            out.append((e.event_type, e.delta.type))
        else:
            out.append((e.event_type,))
    return out


def squash(kinds: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Runs of the same entry as one (text may come in any number of deltas)."""
    return [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]


EXPECTED = [
    ("interaction.created",),
    ("interaction.status_update",),
    ("step.start", "model_output"),
    ("step.delta", "text"),
    ("step.stop",),
    ("step.start", "code_execution_call"),
    ("step.delta", "code_execution_call"),
    ("step.stop",),
    ("step.start", "code_execution_result"),
    ("step.delta", "code_execution_result"),
    ("step.stop",),
    ("step.start", "model_output"),
    ("step.delta", "text"),
    ("step.stop",),
    ("interaction.status_update",),
    ("interaction.completed",),
]


def check_sum_events(events: list) -> str:
    """The events of the SUM script: in order, with the code and its real output; the id."""
    assert squash(shape(events)) == EXPECTED
    assert [e.event_id for e in events] == [str(i) for i in range(1, len(events) + 1)]
    created, completed = events[0], events[-1]
    assert created.interaction.status == "in_progress"
    assert completed.interaction.status == "completed"
    assert completed.interaction.id == created.interaction.id
    assert completed.interaction.usage.total_tokens > 0
    starts = {e.index: e.step for e in events if e.event_type == "step.start"}
    assert sorted(starts) == [0, 1, 2, 3]
    text = {i: "" for i in starts}
    for e in events:
        if e.event_type == "step.delta" and e.delta.type == "text":
            text[e.index] += e.delta.text
    assert text[0] == "Computing." and text[3] == "Final answer: 5050"
    [code] = [e.delta for e in events if e.event_type == "step.delta" and e.index == 1]
    assert code.arguments.code == "print(sum(range(1, 101)))"
    [result] = [e.delta for e in events if e.event_type == "step.delta" and e.index == 2]
    assert result.result.strip() == "5050"  # the sandbox ran it
    assert not result.is_error
    assert starts[2].call_id == starts[1].id
    return str(created.interaction.id)


def test_stream_sends_the_steps_as_they_happen_and_stores_the_interaction(
    client_for, start_server, script, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"m": script(SUM)})
    client = client_for(server.url)
    events = list(client.interactions.create(model="m", input="Sum?", tools=TOOLS, stream=True))
    interaction_id = check_sum_events(events)
    stored = client.interactions.get(interaction_id)
    assert stored.status == "completed"
    assert stored.output_text == "Final answer: 5050"
    kinds = [s.type for s in stored.steps]
    assert kinds[0] == "user_input" and kinds[1:] == [
        "model_output",
        "code_execution_call",
        "code_execution_result",
        "model_output",
    ]
    streamed_call = next(e.step for e in events if e.event_type == "step.start" and e.index == 1)
    assert stored.steps[2].id == streamed_call.id  # the same ids as streamed
    again = list(client.interactions.get(interaction_id, stream=True))  # its events replayed
    assert [e.model_dump() for e in again] == [e.model_dump() for e in events]
    tail = list(client.interactions.get(interaction_id, stream=True, last_event_id="14"))
    assert [e.event_id for e in tail] == [str(i) for i in range(15, len(events) + 1)]


async def test_async_client_streams_the_same_events(
    client_for, start_server, script, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"m": script(SUM)})
    client = client_for(server.url)
    stream = await client.aio.interactions.create(model="m", input="Sum?", tools=TOOLS, stream=True)
    check_sum_events([event async for event in stream])


def test_a_failed_run_streams_an_error_event(client_for, start_server, script, tmp_path) -> None:
    one_turn = script([{"text": "Computing.", "code": "print(6 * 7)"}])  # then out of turns
    server = start_server(data_dir=tmp_path / "data", aliases={"m": one_turn})
    client = client_for(server.url)
    events = list(client.interactions.create(model="m", input="6*7?", tools=TOOLS, stream=True))
    assert events[-1].event_type == "error"
    assert "out of turns" in events[-1].error.message
    assert events[-2].event_type == "interaction.status_update"
    assert events[-2].status == "failed"
    [result] = [e.delta for e in events if e.event_type == "step.delta" and e.index == 2]
    assert result.result.strip() == "42"
    stored = client.interactions.get(events[0].interaction.id)
    assert stored.status == "failed"
    assert "out of turns" in stored.errors[0].message


def test_stream_of_an_unknown_model_is_an_http_error(client_for, start_server, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.url)
    with pytest.raises(Exception) as caught:  # the SDK's NotFoundError (a private module's)
        list(client.interactions.create(model="scripted:/no/such.json", input="x", stream=True))
    assert getattr(caught.value, "status_code", None) == 404


def test_client_leaving_the_stream_stops_the_run(
    client_for, start_server, script, sandboxes, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"spin": script(SPINNING)})
    client = client_for(server.url)
    stream = client.interactions.create(model="spin", input="spin", tools=TOOLS, stream=True)
    interaction_id = ""
    for event in stream:
        if event.event_type == "interaction.created":
            interaction_id = event.interaction.id
        if event.event_type == "step.stop" and event.index == 1:  # the code call was sent
            break
    assert wait_until(lambda: running_pid(sandboxes), 20), "the code never started"
    pid = running_pid(sandboxes)
    assert pid is not None
    stream.close()  # the client goes away
    assert wait_until(lambda: not process_alive(pid), 5), "the code survived the client"
    assert wait_until(lambda: server.app.state.pool.admitted == 0, 5), "the slot was not freed"
    assert sandboxes[0][0].closed
    assert wait_until(lambda: client.interactions.get(interaction_id).status == "cancelled", 5)
    assert client.interactions.get(interaction_id).steps[2].arguments.code == SPIN


def test_stream_with_store_false_keeps_nothing(client_for, start_server, script, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"m": script(SUM)})
    client = client_for(server.url)
    stream = client.interactions.create(
        model="m", input="Sum?", tools=TOOLS, stream=True, store=False
    )
    interaction_id = check_sum_events(list(stream))
    assert httpx.get(f"{server.url}/v1beta/interactions/{interaction_id}").status_code == 404


def test_a_background_stream_left_early_runs_on(client_for, start_server, script, tmp_path) -> None:
    slow = [SUM[0], {**SUM[1], "delay_s": 1.0}]
    server = start_server(data_dir=tmp_path / "data", aliases={"m": script(slow)})
    client = client_for(server.url)
    stream = client.interactions.create(
        model="m", input="Sum?", tools=TOOLS, stream=True, background=True
    )
    first = next(iter(stream))
    assert first.event_type == "interaction.created"
    stream.close()
    final = first.interaction.id
    assert wait_until(lambda: client.interactions.get(final).status != "in_progress", 60)
    assert client.interactions.get(final).output_text == "Final answer: 5050"


def test_background_runs_on_and_get_shows_the_end(
    client_for, start_server, script, tmp_path
) -> None:
    slow = [{**SUM[0], "delay_s": 0.5}, {**SUM[1], "delay_s": 0.5}]
    server = start_server(data_dir=tmp_path / "data", aliases={"m": script(slow)})
    client = client_for(server.url)
    created = client.interactions.create(model="m", input="Sum?", tools=TOOLS, background=True)
    assert created.status == "in_progress"
    seen: list[str] = []

    def done() -> bool:
        seen.append(client.interactions.get(created.id).status)
        return seen[-1] != "in_progress"

    assert wait_until(done, 60)
    assert seen[0] == "in_progress" and seen[-1] == "completed"  # create did not wait
    final = client.interactions.get(created.id)
    assert final.output_text == "Final answer: 5050"
    [result] = [s for s in final.steps if s.type == "code_execution_result"]
    assert result.result.strip() == "5050"
    assert final.usage.total_tokens > 0
    check_sum_events(list(client.interactions.get(created.id, stream=True)))


def test_cancel_stops_a_background_run_and_its_code(
    client_for, start_server, script, sandboxes, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"spin": script(SPINNING)})
    client = client_for(server.url)
    created = spin_in_background(client, "spin", sandboxes)
    pid = running_pid(sandboxes)
    assert pid is not None
    time.sleep(0.3)
    assert client.interactions.get(created.id).status == "in_progress"
    asked = time.monotonic()
    cancelled = client.interactions.cancel(created.id)
    took = time.monotonic() - asked
    assert cancelled.status == "cancelled"
    assert took < 5, f"cancel took {took:.1f} s"
    assert not process_alive(pid), "the code survived the cancel"
    assert wait_until(lambda: server.app.state.pool.admitted == 0, 5), "the slot was not freed"
    assert sandboxes[0][0].closed
    stored = client.interactions.get(created.id)
    assert stored.status == "cancelled"
    assert [s.type for s in stored.steps][1:3] == ["model_output", "code_execution_call"]
    assert client.interactions.cancel(created.id).status == "cancelled"  # twice is no error


def test_cancel_of_a_finished_interaction_is_a_clear_400(
    client_for, start_server, script, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"m": script(SUM)})
    client = client_for(server.url)
    done = client.interactions.create(model="m", input="Sum?", tools=TOOLS)
    with pytest.raises(Exception) as caught:  # the SDK's BadRequestError
        client.interactions.cancel(done.id)
    assert getattr(caught.value, "status_code", None) == 400
    assert "completed" in str(caught.value)
    r = httpx.post(f"{server.url}/v1beta/interactions/{done.id}/cancel")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert httpx.post(f"{server.url}/v1beta/interactions/nosuch/cancel").status_code == 404


def test_delete_of_a_running_background_interaction_stops_it(
    client_for, start_server, script, sandboxes, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"spin": script(SPINNING)})
    client = client_for(server.url)
    created = spin_in_background(client, "spin", sandboxes)
    client.interactions.delete(created.id)
    assert wait_until(lambda: server.app.state.pool.admitted == 0, 5), "the run went on"
    time.sleep(0.2)  # the run's end writes nothing back
    r = httpx.get(f"{server.url}/v1beta/interactions/{created.id}")
    assert r.status_code == 404


def test_a_restart_keeps_finished_interactions_and_fails_running_ones(
    client_for, start_server, script, sandboxes, tmp_path
) -> None:
    data = tmp_path / "data"
    first = start_server(data_dir=data, aliases={"m": script(SUM), "spin": script(SPINNING)})
    client = client_for(first.url)
    finished = client.interactions.create(model="m", input="Sum?", tools=TOOLS, background=True)
    assert wait_until(lambda: client.interactions.get(finished.id).status == "completed", 60)
    running = spin_in_background(client, "spin", sandboxes)
    first.stop()
    # a graceful stop marks it failed already; as if the server had been killed instead:
    store = Store(data)
    record, history = store.get_interaction("", running.id)
    store.put_interaction("", {**record, "status": "in_progress"}, history)
    store.close()

    second = start_server(data_dir=data, aliases={"m": script(SUM)})
    client = client_for(second.url)
    after = client.interactions.get(running.id)
    assert after.status == "failed"
    assert "server stopped" in after.errors[0].message
    kept = client.interactions.get(finished.id)
    assert kept.status == "completed" and kept.output_text == "Final answer: 5050"
    replayed = list(client.interactions.get(finished.id, stream=True))  # from the store
    assert replayed[-1].event_type == "interaction.completed"
    [code] = [e.delta for e in replayed if e.event_type == "step.delta" and e.index == 1]
    assert code.arguments.code == "print(sum(range(1, 101)))"
    [failed_end] = list(client.interactions.get(running.id, stream=True))[-1:]
    assert failed_end.event_type == "error"
