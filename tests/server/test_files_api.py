"""The Files API with the official google-genai client, as the Gemini cookbook uses it:
upload a CSV, ask about it (scripted model, real sandbox), list/get/delete, restart, expiry."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from google.genai import errors, types

CODE_TOOL = types.Tool(code_execution=types.ToolCodeExecution())
CSV = b"region,revenue\nnorth,120\nsouth,80\neast,45\n"
READ_SALES = "import pandas as pd\nprint(pd.read_csv('sales.csv')['revenue'].sum())"
TURNS = [{"text": "", "code": READ_SALES}, {"text": "Final answer: 245"}]


@pytest.fixture
def sales(tmp_path: Path) -> Path:
    path = tmp_path / "sales.csv"
    path.write_bytes(CSV)
    return path


def _ask(client, model: str, file: types.File) -> types.GenerateContentResponse:
    return client.models.generate_content(
        model=model,
        contents=[file, "What is the total revenue?"],
        config=types.GenerateContentConfig(tools=[CODE_TOOL]),
    )


def _output(response: types.GenerateContentResponse) -> str:
    [result] = [
        p.code_execution_result
        for p in response.candidates[0].content.parts
        if p.code_execution_result
    ]
    assert result.outcome == types.Outcome.OUTCOME_OK, result.output
    return result.output


def test_upload_csv_and_ask_about_it(
    client_for, start_server, script, sales, tmp_path, created_models
) -> None:
    server = start_server(data_dir=tmp_path / "data", aliases={"gemini-2.5-flash": script(TURNS)})
    client = client_for(server.url)
    uploaded = client.files.upload(file=str(sales))
    assert uploaded.name.startswith("files/")
    assert uploaded.mime_type == "text/csv"
    assert uploaded.size_bytes == len(CSV)
    assert uploaded.state == types.FileState.ACTIVE
    assert uploaded.uri == f"{server.url}/v1beta/{uploaded.name}"
    assert uploaded.expiration_time - uploaded.create_time == timedelta(hours=48)
    response = _ask(client, "gemini-2.5-flash", uploaded)
    assert _output(response) == "245"  # computed in the sandbox from the uploaded bytes
    assert response.candidates[0].content.parts[-1].text == "Final answer: 245"
    [model] = created_models
    assert "sales.csv" in model.calls[0]["system"]


def test_file_data_in_stream_and_count_tokens(
    client_for, start_server, script, sales, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.url)
    uploaded = client.files.upload(file=sales, config={"display_name": "sales.csv"})
    assert uploaded.display_name == "sales.csv"
    chunks = list(
        client.models.generate_content_stream(
            model=script(TURNS),
            contents=[uploaded, "Total revenue?"],
            config=types.GenerateContentConfig(tools=[CODE_TOOL]),
        )
    )
    outputs = [
        p.code_execution_result.output
        for c in chunks
        for p in (c.candidates[0].content.parts if c.candidates[0].content else [])
        if p.code_execution_result
    ]
    assert outputs == ["245"]
    with_file = client.models.count_tokens(model=script(TURNS), contents=[uploaded, "Total?"])
    without = client.models.count_tokens(model=script(TURNS), contents=["Total?"])
    assert with_file.total_tokens > without.total_tokens  # the CSV is shown to the model


def test_list_get_delete(client_for, start_server, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.url)
    names = []
    for i in range(3):
        path = tmp_path / f"f{i}.txt"
        path.write_text(f"file {i}\n")
        names.append(client.files.upload(file=path).name)
    pager = client.files.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert sorted(f.name for f in pager) == sorted(names)  # the pager fetched page 2 itself
    page = httpx.get(
        f"{server.url}/v1beta/files", params={"pageSize": 2}, headers={"x-goog-api-key": "k"}
    ).json()
    assert [f["name"] for f in page["files"]] == names[::-1][:2]  # newest first
    rest = httpx.get(
        f"{server.url}/v1beta/files", params={"pageSize": 2, "pageToken": page["nextPageToken"]}
    ).json()
    assert [f["name"] for f in rest["files"]] == names[:1]
    assert "nextPageToken" not in rest
    got = client.files.get(name=names[0])
    assert got.size_bytes == len("file 0\n")
    client.files.delete(name=names[0])
    with pytest.raises(errors.ClientError) as e:
        client.files.get(name=names[0])
    assert e.value.code == 403
    assert len(list(client.files.list())) == 2
    assert not (tmp_path / "data" / "files" / names[0].split("/")[1]).exists()


def test_deleted_file_in_a_request_is_refused(
    client_for, start_server, script, sales, tmp_path
) -> None:
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.url)
    uploaded = client.files.upload(file=sales)
    client.files.delete(name=uploaded.name)
    with pytest.raises(errors.ClientError) as e:
        _ask(client, script(TURNS), uploaded)
    assert e.value.code == 403
    assert uploaded.name in e.value.message


def test_restart_keeps_files(client_for, start_server, script, sales, tmp_path) -> None:
    data = tmp_path / "data"
    first = start_server(data_dir=data)
    client = client_for(first.url)
    uploaded = client.files.upload(file=sales)
    first.stop()
    second = start_server(data_dir=data)
    client = client_for(second.url)
    again = client.files.get(name=uploaded.name)
    assert again.sha256_hash == uploaded.sha256_hash
    assert again.expiration_time == uploaded.expiration_time
    assert [f.name for f in client.files.list()] == [uploaded.name]
    assert _output(_ask(client, script(TURNS), again)) == "245"


def test_files_expire(client_for, start_server, script, sales, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", file_ttl_s=1.0)
    client = client_for(server.url)
    uploaded = client.files.upload(file=sales)
    assert uploaded.expiration_time - uploaded.create_time == timedelta(seconds=1)
    time.sleep(1.2)
    with pytest.raises(errors.ClientError) as e:
        _ask(client, script(TURNS), uploaded)
    assert e.value.code == 403
    assert list(client.files.list()) == []
    assert list((tmp_path / "data" / "files").iterdir()) == []  # purged from disk


def test_size_limits(client_for, start_server, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", max_file_bytes=100, max_files_bytes=150)
    client = client_for(server.url)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 101)
    with pytest.raises(errors.ClientError) as e:
        client.files.upload(file=big)
    assert e.value.code == 413
    assert "100 bytes" in e.value.message
    ok = tmp_path / "ok.txt"
    ok.write_bytes(b"y" * 100)
    client.files.upload(file=ok)
    with pytest.raises(errors.ClientError) as e:
        client.files.upload(file=ok)
    assert e.value.code == 413
    assert "quota" in e.value.message


def test_chosen_names_api_keys_and_bad_requests(client_for, start_server, sales, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data", api_key="s3cret")
    client = client_for(server.url, api_key="s3cret")
    named = client.files.upload(file=sales, config={"name": "my-sales"})
    assert named.name == "files/my-sales"
    for bad_name, code in (("my-sales", 409), ("Bad_Name", 400)):
        with pytest.raises(errors.ClientError) as e:
            client.files.upload(file=sales, config={"name": bad_name})
        assert e.value.code == code, e.value.message
    stranger = client_for(server.url, api_key="nope")
    with pytest.raises(errors.ClientError) as e:
        stranger.files.list()
    assert e.value.code == 403
    url = f"{server.url}/upload/v1beta/files"
    r = httpx.post(url, json={"file": {}}, headers={"x-goog-api-key": "s3cret"})
    assert r.status_code == 400 and "resumable" in r.json()["error"]["message"]
    r = httpx.post(
        url,
        params={"upload_id": "bogus"},
        headers={"X-Goog-Upload-Command": "upload, finalize"},
        content=b"x",
    )
    assert r.status_code == 404 and r.headers["x-goog-upload-status"] == "final"
    r = httpx.get(
        f"{server.url}/v1beta/files", params={"pageSize": 0}, headers={"x-goog-api-key": "s3cret"}
    )
    assert r.status_code == 400


def test_chunked_upload_over_raw_http(start_server, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data")
    start = httpx.post(
        f"{server.url}/upload/v1beta/files",
        json={"file": {"displayName": "two parts.txt"}},
        headers={
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": "10",
            "X-Goog-Upload-Header-Content-Type": "text/plain",
        },
    )
    assert start.status_code == 200, start.text
    url = start.headers["x-goog-upload-url"]
    r = httpx.post(
        url,
        content=b"hello",
        headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"},
    )
    assert r.headers["x-goog-upload-status"] == "active"
    r = httpx.post(
        url, content=b"x", headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "3"}
    )
    assert r.status_code == 400 and "offset" in r.json()["error"]["message"]
    r = httpx.post(url, headers={"X-Goog-Upload-Command": "query"})
    assert r.headers["x-goog-upload-size-received"] == "5"
    r = httpx.post(
        url,
        content=b"world",
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "5"},
    )
    assert r.headers["x-goog-upload-status"] == "final"
    file = r.json()["file"]
    assert file["displayName"] == "two parts.txt" and file["sizeBytes"] == "10"
    content = tmp_path / "data" / "files" / file["name"].split("/")[1]
    assert content.read_bytes() == b"helloworld"
    r = httpx.post(url, content=b"again", headers={"X-Goog-Upload-Command": "upload, finalize"})
    assert r.status_code == 404  # the upload is over


def test_files_belong_to_their_owner(tmp_path) -> None:
    from agent.server.store import Store

    store = Store(tmp_path / "data")
    upload = store.start_upload(
        "alice", name=None, display_name=None, source_name="a.txt", mime_type="text/plain",
        size_bytes=2,
    )  # fmt: skip
    store.append(upload, 0, b"hi")
    record = store.finalize(upload)
    assert store.read("alice", record.name)[1] == b"hi"
    for call in (store.get, store.read, store.delete):
        with pytest.raises(Exception) as e:
            call("bob", record.name)
        assert getattr(e.value, "code", None) == 403
    assert store.list("bob", 10, None) == ([], None)
    store.close()
    assert Store(tmp_path / "data").get("alice", record.name).source_name == "a.txt"


def test_serve_flags_for_files(tmp_path) -> None:
    from agent.server.config import parse_args

    config = parse_args(
        ["--data-dir", str(tmp_path), "--max-file-mb", "2", "--file-ttl-hours", "1"]
    )
    assert (config.data_dir, config.max_file_bytes, config.file_ttl_s) == (
        tmp_path,
        2 * 2**20,
        3600,
    )
    with pytest.raises(SystemExit):
        parse_args(["--file-ttl-hours", "0"])


def test_upload_ids_are_not_paths(client_for, start_server, sales, tmp_path) -> None:
    server = start_server(data_dir=tmp_path / "data")
    client = client_for(server.url)
    uploaded = client.files.upload(file=sales)
    victim = f"../files/{uploaded.name.split('/')[1]}"
    for command in ("cancel", "query", "upload, finalize"):
        r = httpx.post(
            f"{server.url}/upload/v1beta/files",
            params={"upload_id": victim},
            headers={"X-Goog-Upload-Command": command},
        )
        assert r.status_code == 404, (command, r.text)
    assert client.files.get(name=uploaded.name).size_bytes == len(CSV)
    assert (tmp_path / "data" / "files" / uploaded.name.split("/")[1]).read_bytes() == CSV
