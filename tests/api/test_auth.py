"""The API key matrix over real HTTP: no key, wrong key, a read key on write endpoints, a
key limited to one collection; and `cited serve` refusing a public address without keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from tests.api.server import running_server
from tests.corpus import write_corpus
from tests.helpers.cli import run_cited

pytestmark = pytest.mark.slow

READ = "reader-key-0001"
ADMIN = "admin-key-0002"
HR = "hr-only-key-0003"
FILE_KEY = "file-key-0004"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    top = tmp_path_factory.mktemp("auth")
    folder = write_corpus(top / "corpus")
    assert run_cited(top / "data", "ingest", str(folder)).returncode == 0
    hr = top / "hr"
    hr.mkdir()
    (hr / "leave.txt").write_text("New staff at Corvid Ltd get 27 days of paid leave a year.\n")
    assert run_cited(top / "data", "ingest", str(hr), "--collection", "hr").returncode == 0
    keys_file = top / "keys.json"
    keys_file.write_text(
        json.dumps(
            [
                {
                    "name": "ingest-bot",
                    "key_sha256": hashlib.sha256(FILE_KEY.encode()).hexdigest(),
                    "scopes": ["ingest", "read"],
                }
            ]
        )
    )
    env = {
        "CITED_API_KEYS": f"{READ}:ask,read; {ADMIN}; {HR}:ask,read:hr",
        "CITED_API_KEYS_FILE": str(keys_file),
    }
    with (
        running_server(top / "data", top / "server.log", env, ready="/healthz") as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        yield SimpleNamespace(client=client, top=top)


ENDPOINTS = [
    ("POST", "/v1/ask", {"question": "When was the Port of Kelling founded?"}),
    ("POST", "/v1/search", {"query": "Port of Kelling"}),
    (
        "POST",
        "/v1/chat/completions",
        {"model": "cited", "messages": [{"role": "user", "content": "Hi?"}]},
    ),
    ("GET", "/v1/models", None),
    ("GET", "/v1/documents", None),
    ("GET", "/v1/collections", None),
    ("GET", "/v1/jobs", None),
    ("GET", "/metrics", None),
    ("DELETE", "/v1/collections/default", None),
    ("POST", "/v1/collections", {"name": "new"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_no_key_and_a_wrong_key_are_401(
    server: SimpleNamespace, method: str, path: str, body: object
) -> None:
    for headers in ({}, bearer("not-a-real-key"), {"Authorization": f"Basic {READ}"}):
        response = server.client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


def test_health_checks_need_no_key(server: SimpleNamespace) -> None:
    assert server.client.get("/healthz").status_code == 200
    assert server.client.get("/readyz").status_code == 200


def test_a_read_key_reads_and_asks_but_cannot_write(server: SimpleNamespace) -> None:
    client, key = server.client, bearer(READ)
    assert client.post("/v1/ask", json=ENDPOINTS[0][2], headers=key).status_code == 200
    assert client.get("/v1/documents", headers=key).json()["total"] == 7
    assert client.get("/metrics", headers=key).status_code == 200
    for method, path, body in [
        ("DELETE", "/v1/collections/default", None),
        ("POST", "/v1/collections", {"name": "new"}),
    ]:
        response = client.request(method, path, json=body, headers=key)
        assert response.status_code == 403, response.text
        assert "lacks the" in response.json()["error"]["message"]
    upload = client.post("/v1/documents", files={"files": ("a.txt", b"text")}, headers=key)
    assert upload.status_code == 403
    document = client.get("/v1/documents", headers=key).json()["documents"][0]
    assert client.delete(f"/v1/documents/{document['id']}", headers=key).status_code == 403


def test_a_key_limited_to_a_collection_sees_only_that_collection(server: SimpleNamespace) -> None:
    client, key = server.client, bearer(HR)
    answer = client.post(
        "/v1/ask", json={"question": "When was the Port of Kelling founded?"}, headers=key
    ).json()
    assert all(c["source"].endswith("leave.txt") for c in answer["citations"])
    hits = client.post("/v1/search", json={"query": "Port of Kelling herring"}, headers=key)
    assert {p["collection"] for p in hits.json()["passages"]} <= {"hr"}
    leave = client.post(
        "/v1/ask", json={"question": "How many days of paid leave do new staff get?"}, headers=key
    ).json()
    assert [c["source"].rsplit("/", 1)[-1] for c in leave["citations"]] == ["leave.txt"]
    elsewhere = client.post(
        "/v1/ask", json={"question": "Who bakes?", "collection": "default"}, headers=key
    )
    assert elsewhere.status_code == 403 and "'default'" in elsewhere.json()["error"]["message"]
    documents = client.get("/v1/documents", headers=key).json()
    assert documents["total"] == 1 and documents["documents"][0]["collection"] == "hr"
    others = client.get("/v1/documents", headers=bearer(ADMIN)).json()["documents"]
    foreign = next(d for d in others if d["collection"] == "default")
    assert client.get(f"/v1/documents/{foreign['id']}", headers=key).status_code == 404
    assert client.get(f"/v1/documents/{foreign['id']}/text", headers=key).status_code == 404
    names = [c["name"] for c in client.get("/v1/collections", headers=key).json()["collections"]]
    assert names == ["hr"]
    models = [m["id"] for m in client.get("/v1/models", headers=key).json()["data"]]
    assert models == ["cited", "hr"]
    chat = client.post(
        "/v1/chat/completions",
        json={"model": "default", "messages": [{"role": "user", "content": "Who bakes?"}]},
        headers=key,
    )
    assert chat.status_code == 404 and chat.json()["error"]["code"] == "model_not_found"


def test_write_keys_ingest_and_delete(server: SimpleNamespace) -> None:
    client = server.client
    upload = client.post(
        "/v1/documents",
        params={"wait": "true"},
        data={"collection": "scratch"},
        files={"files": ("note.txt", b"The scratch note says the kiln door sticks in winter.")},
        headers=bearer(FILE_KEY),
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["files"][0]["status"] == "added"
    assert client.delete("/v1/collections/scratch", headers=bearer(FILE_KEY)).status_code == 403
    deleted = client.delete("/v1/collections/scratch", headers=bearer(ADMIN))
    assert deleted.status_code == 200 and deleted.json()["documents"] == 1


def test_serve_refuses_a_public_address_without_keys(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data = tmp_path_factory.mktemp("public")
    refused = run_cited(data, "serve", "--host", "0.0.0.0", "--port", "9")
    assert refused.returncode == 2
    assert "refusing to serve 0.0.0.0 without API keys" in refused.stderr
    assert "--insecure" in refused.stderr
