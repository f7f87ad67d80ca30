"""Environments API with the official google-genai client (scripted model, real sandbox)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from google import genai
from google.genai import types

pytestmark = pytest.mark.filterwarnings("ignore:Environments usage is experimental")

SET = [
    {"text": "", "code": "x = 21\nopen('keep.txt', 'w').write('kept')\nprint(x)"},
    {"text": "Set x."},
]
USE = [{"text": "", "code": "print(x * 2)"}, {"text": "Final answer: 42"}]
READ = [
    {"text": "", "code": "print(open('keep.txt').read())\nprint(x)"},
    {"text": "Done."},
]
CODE = [{"type": "code_execution"}]


def _results(interaction) -> list[str]:
    return [s.result for s in interaction.steps if s.type == "code_execution_result"]


def _no_retries(url: str) -> genai.Client:
    options = types.HttpOptions(base_url=url, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="k", http_options=options)


def test_two_interactions_share_one_environment(client_for, start_server, script, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"a": script(SET), "b": script(USE)})
    client = client_for(server.url)
    env = client.environments.create()
    assert env.id and env.status == "active"
    first = client.interactions.create(model="a", input="Set x", tools=CODE, environment=env.id)
    assert _results(first)[0].strip() == "21"
    second = client.interactions.create(
        model="b", input="Double x", tools=CODE, environment=f"environments/{env.id}"
    )
    assert _results(second)[0].strip() == "42"  # x from the first interaction
    assert second.output_text == "Final answer: 42"
    got = client.environments.get(env.id)
    assert got.file_count == 1 and got.size_bytes == 4  # keep.txt, mirrored to disk
    assert [e.id for e in client.environments.list().environments] == [env.id]
    client.environments.delete(env.id)
    r = httpx.get(f"{server.url}/v1/environments/{env.id}")
    assert r.status_code == 404
    r = httpx.post(
        f"{server.url}/v1/interactions", json={"model": "b", "input": "x", "environment": env.id}
    )
    assert r.status_code == 404


def test_an_environment_object_without_id_creates_one(start_server, script, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"a": script(SET)})
    source = {"type": "inline", "content": "hello", "target": "data/in.txt"}
    r = httpx.post(
        f"{server.url}/v1/interactions",
        json={
            "model": "a",
            "input": "Set x",
            "tools": CODE,
            "environment": {"type": "remote", "sources": [source]},
        },
        timeout=60,
    )
    assert r.status_code == 200, r.text
    env_id = r.json()["environment"]
    r = httpx.get(f"{server.url}/v1/environments/{env_id}")
    assert r.json()["file_count"] == 2  # data/in.txt and keep.txt


def test_limit_per_api_key(start_server, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", max_environments=2)
    client = _no_retries(server.url)
    first = client.environments.create()
    client.environments.create()
    with pytest.raises(Exception) as info:
        client.environments.create()
    assert "429" in str(info.value) or "exhausted" in str(info.value).lower()
    client.environments.delete(first.id)
    client.environments.create()  # room again
    assert len(client.environments.list().environments) == 2


def test_idle_suspension_keeps_files_and_says_variables_are_lost(
    client_for, start_server, script, tmp_path
) -> None:
    server = start_server(
        data_dir=tmp_path / "data",
        environment_idle_s=0.4,
        aliases={"a": script(SET), "r": script(READ)},
    )
    client = client_for(server.url)
    env = client.environments.create()
    client.interactions.create(model="a", input="Set x", tools=CODE, environment=env.id)
    deadline = time.monotonic() + 10
    while client.environments.get(env.id).state != "suspended":  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the idle environment was not suspended"
        time.sleep(0.1)
    second = client.interactions.create(model="r", input="Read", tools=CODE, environment=env.id)
    [output] = _results(second)
    assert "kept" in output  # the file survived
    assert "suspended" in output and "variables were lost" in output
    assert "NameError" in output


def test_expired_environments_are_deleted(start_server, tmp_path) -> None:
    # 3 s: on a loaded machine 0.5 s passed between the create and the first get
    server = start_server(data_dir=tmp_path / "data", environment_ttl_s=3.0)
    env = httpx.post(f"{server.url}/v1/environments", json={}).json()
    assert httpx.get(f"{server.url}/v1/environments/{env['id']}").status_code == 200
    time.sleep(3.5)
    assert httpx.get(f"{server.url}/v1/environments/{env['id']}").status_code == 404
    assert httpx.get(f"{server.url}/v1/environments").json()["environments"] == []
    assert not (tmp_path / "data" / "environments" / env["id"]).exists()


def test_restart_keeps_the_environment_and_its_files(
    client_for, start_server, script, tmp_path
) -> None:
    data = tmp_path / "data"
    first_server = start_server(data_dir=data, aliases={"a": script(SET)})
    client = client_for(first_server.url)
    env = client.environments.create()
    client.interactions.create(model="a", input="Set x", tools=CODE, environment=env.id)
    first_server.stop()
    manager = first_server.app.state.environments
    assert manager._stop.is_set()  # shutdown saved and closed the open sessions
    assert all(live.sandbox is None for live in manager._live.values())
    server = start_server(data_dir=data, aliases={"r": script(READ)})
    client = client_for(server.url)
    assert client.environments.get(env.id).id == env.id
    second = client.interactions.create(model="r", input="Read", tools=CODE, environment=env.id)
    [output] = _results(second)
    assert "kept" in output
    assert "server restarted" in output and "NameError" in output


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"mode": "self_hosted"}, "mode"),
        ({"network": {"allowlist": ["example.com"]}}, "network"),
        ({"sources": [{"type": "gcs", "source": "gs://b/o"}]}, "gcs"),
        ({"sources": [{"type": "inline", "content": "x", "target": "../up"}]}, "inside"),
    ],
)
def test_unsupported_environment_settings_are_400(start_server, tmp_path, body, message) -> None:
    server = start_server(data_dir=tmp_path / "data")
    r = httpx.post(f"{server.url}/v1/environments", json=body)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]["message"]


def test_interactions_in_one_environment_take_turns(start_server, script, tmp_path) -> None:
    slow = [{"text": "", "code": "import time\ntime.sleep(1.5)\ny = 5\nprint(y)"}, {"text": "ok"}]
    use = [{"text": "", "code": "print(y + 1)"}, {"text": "ok"}]
    server = start_server(data_dir=tmp_path / "data", aliases={"s": script(slow), "u": script(use)})
    env_id = httpx.post(f"{server.url}/v1/environments", json={}).json()["id"]

    def create(model: str) -> dict:
        body = {"model": model, "input": "go", "tools": CODE, "environment": env_id}
        return httpx.post(f"{server.url}/v1/interactions", json=body, timeout=60).json()

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(create, "s")
        time.sleep(0.5)  # the first is running its code now
        second = pool.submit(create, "u")
        outputs = [
            [s["result"] for s in f.result()["steps"] if s["type"] == "code_execution_result"]
            for f in (first, second)
        ]
    assert outputs[0][0].strip() == "5"
    assert outputs[1][0].strip() == "6"  # it waited for the first and saw its variable


def test_environment_files_are_listed_and_read_with_the_client(
    client_for, start_server, script, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"a": script(SET)})
    client = client_for(server.url)
    source = {"type": "inline", "content": "a,b\n1,2\n", "target": "data/in.csv"}
    env = client.environments.create(sources=[source])
    client.interactions.create(model="a", input="Set x", tools=CODE, environment=env.id)
    top = client.environments.files.list(env.id, "")
    assert [(f.path, f.type) for f in top.files] == [("data", "directory"), ("keep.txt", "file")]
    keep = top.files[1]
    assert keep.size_bytes == 4 and keep.mime_type == "text/plain" and keep.modified
    everything = client.environments.files.list(env.id, "", recursive=True)
    assert [f.path for f in everything.files] == ["data/in.csv", "keep.txt"]
    one = client.environments.files.list(env.id, "data/in.csv")
    assert [(f.name, f.size_bytes) for f in one.files] == [("in.csv", 8)]
    paged = client.environments.files.list(env.id, "", recursive=True, page_size=1)
    assert len(paged.files) == 1 and paged.next_page_token
    rest = client.environments.files.list(
        env.id, "", recursive=True, page_size=1, page_token=paged.next_page_token
    )
    assert [f.path for f in rest.files] == ["keep.txt"] and not rest.next_page_token
    base = f"{server.url}/v1beta/environments/{env.id}/files"
    media = httpx.get(f"{base}/data/in.csv", params={"alt": "media"})
    assert media.status_code == 200 and media.content == b"a,b\n1,2\n"
    assert httpx.get(f"{base}/nothing.txt").status_code == 404
    assert httpx.get(f"{base}/data/%2E%2E/%2E%2E/etc/passwd").status_code in (400, 404)
    assert httpx.get(f"{base}/data", params={"alt": "media"}).status_code == 400
    other = f"{server.url}/v1beta/environments/env-0000000000000000/files/keep.txt"
    assert httpx.get(other).status_code == 404


def test_environment_file_paths_stay_inside_the_workspace(tmp_path) -> None:
    from agent.server.env_files_api import _inside
    from agent.server.errors import ApiError

    (tmp_path / "ws").mkdir()
    (tmp_path / "secret").write_text("no")
    (tmp_path / "ws" / "link").symlink_to(tmp_path / "secret")
    for bad in ("../secret", "a/../../secret", "link", "x\x00"):
        with pytest.raises(ApiError):
            _inside(tmp_path / "ws", bad)
    assert _inside(tmp_path / "ws", "/") == tmp_path / "ws"
