"""GET /v1/me tells a caller what its API key may do, whatever its scopes, so that a client
(the chat page) offers only that. In-process: no server, no model."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.app import app_client

ASKER = "asker-token-0001"
READER = "reader-token-0002"
ADMIN = "admin-token-0003"
KEYS = f"{ASKER}:ask:hr; {READER}:read,ask:legal,hr; {ADMIN}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_each_key_is_told_its_scopes_and_collections(tmp_path: Path) -> None:
    with app_client(tmp_path / "data", api_keys=KEYS) as client:
        asker = client.get("/v1/me", headers=bearer(ASKER))
        reader = client.get("/v1/me", headers=bearer(READER)).json()
        admin = client.get("/v1/me", headers=bearer(ADMIN)).json()
        # what the key may not do stays refused (the route describes, it grants nothing)
        assert client.get("/v1/collections", headers=bearer(ASKER)).status_code == 403
    assert asker.status_code == 200  # an ask-only key may ask what it may do
    assert asker.json() == {"keys": True, "name": "key 1", "scopes": ["ask"], "collections": ["hr"]}
    assert reader == {
        "keys": True,
        "name": "key 2",
        "scopes": ["ask", "read"],
        "collections": ["hr", "legal"],
    }
    assert admin["scopes"] == ["ask", "read", "ingest", "delete"] and admin["collections"] is None


def test_a_missing_or_wrong_key_is_401(tmp_path: Path) -> None:
    with app_client(tmp_path / "data", api_keys=KEYS) as client:
        for headers in ({}, bearer("not-a-real-key"), {"Authorization": f"Basic {ASKER}"}):
            response = client.get("/v1/me", headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["error"]["code"] == "unauthorized"
        schema = client.get("/openapi.json").json()["paths"]["/v1/me"]["get"]
    assert schema["security"] == [{"HTTPBearer": []}]
    assert set(schema["responses"]) == {"200", "400", "401"}  # never 403


def test_without_keys_everything_is_allowed(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        me = client.get("/v1/me").json()
        schema = client.get("/openapi.json").json()["paths"]["/v1/me"]["get"]
    assert me == {
        "keys": False,
        "name": None,
        "scopes": ["ask", "read", "ingest", "delete"],
        "collections": None,
    }
    assert "security" not in schema and "401" not in schema["responses"]
