"""DNS rebinding and cross-site writes are refused by a server without keys on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.app import app_client

EVIL = "http://evil.example"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with app_client(tmp_path / "data") as client:
        yield client


def collections(client: TestClient) -> set[str]:
    return {c["name"] for c in client.get("/v1/collections").json()["collections"]}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # a sandboxed frame or a file: page
        {"Origin": "http://127.0.0.1:3000"},  # another local site
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # e.g. another port of localhost, older browsers
    ],
)
def test_cross_site_writes_are_refused_and_change_nothing(
    client: TestClient, headers: dict[str, str]
) -> None:
    created = client.post("/v1/collections", json={"name": "planted"}, headers=headers)
    assert created.status_code == 403
    assert created.json()["error"]["code"] == "cross_site_request"
    assert "CITED_API_KEYS" in created.json()["error"]["message"]
    upload = client.post(
        "/v1/documents",
        files={"files": ("planted.txt", b"Planted by another site.\n", "text/plain")},
        headers=headers,
    )
    assert upload.status_code == 403
    deleted = client.delete("/v1/collections/default", headers=headers)
    assert deleted.status_code == 403
    assert "planted" not in collections(client)
    assert client.get("/v1/documents").json()["total"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts, other services: no browser headers
        {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"},  # the chat page
        {"Sec-Fetch-Site": "none"},  # the user's own navigation
    ],
)
def test_own_pages_and_non_browser_clients_may_write(
    client: TestClient, headers: dict[str, str]
) -> None:
    created = client.post("/v1/collections", json={"name": "notes"}, headers=headers)
    assert created.status_code == 201, created.text
    assert "notes" in collections(client)


def test_a_rebound_host_name_is_refused_on_loopback(client: TestClient) -> None:
    refused = client.get("/v1/documents", headers={"Host": "rebind.evil.example"})
    assert refused.status_code == 400
    body = refused.json()["error"]
    assert body["code"] == "host_not_allowed" and "CITED_ALLOWED_HOSTS" in body["message"]
    assert "rebind.evil.example" in body["message"]
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST"):
        assert client.get("/v1/documents", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_and_cors_origins_widen_the_checks(tmp_path: Path) -> None:
    with app_client(
        tmp_path / "data",
        allowed_hosts="cited.intranet.example",
        cors_origins="https://wiki.intranet.example",
    ) as client:
        assert client.get("/v1/documents", headers={"Host": "cited.intranet.example"}).is_success
        assert client.get("/v1/documents", headers={"Host": "other.example"}).status_code == 400
        trusted = {"Origin": "https://wiki.intranet.example", "Sec-Fetch-Site": "cross-site"}
        assert client.post("/v1/collections", json={"name": "wiki"}, headers=trusted).is_success
        refused = client.post("/v1/collections", json={"name": "x"}, headers={"Origin": EVIL})
        assert refused.status_code == 403


def test_with_keys_a_forged_request_has_no_key_and_a_public_bind_answers_any_host(
    tmp_path: Path,
) -> None:
    with app_client(
        tmp_path / "data", api_keys="s3cret-key-for-tests", host="0.0.0.0", insecure=True
    ) as client:
        forged = client.post("/v1/collections", json={"name": "x"}, headers={"Origin": EVIL})
        assert forged.status_code == 401
        key = {"Authorization": "Bearer s3cret-key-for-tests", "Host": "cited.example.org"}
        assert client.post("/v1/collections", json={"name": "x"}, headers=key).status_code == 201


def test_cors_allows_only_the_configured_origin(tmp_path: Path) -> None:
    with app_client(tmp_path / "data", cors_origins="https://intranet.example") as client:

        def preflight(origin: str) -> Any:
            return client.options(
                "/v1/ask",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type",
                },
            )

        allowed = preflight("https://intranet.example")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://intranet.example"
        refused = preflight("https://evil.example")
        assert "access-control-allow-origin" not in refused.headers
