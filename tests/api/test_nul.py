"""A NUL character in any request string is refused at the edge (422 naming the field), on
SQLite and PostgreSQL alike: PostgreSQL cannot hold NUL in text, so letting one through to
SQL answered 500 there while SQLite answered 200 or 404 (api/schemas.py `NulFree`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers.app import app_client

NUL = "\u0000"
REFUSED = "NUL characters (U+0000) are not allowed"


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    """The real app over an empty store of each kind (no model is loaded: nothing here gets
    past validation)."""
    with app_client(tmp_path / "data", database_url=database_url) as client:
        yield client


def assert_refused(client: TestClient, method: str, path: str, field: str, **request: Any) -> None:
    """The request is answered 422, naming `field` and the NUL in it."""
    response = client.request(method, path, **request)
    assert response.status_code == 422, response.text
    problem = response.json()["error"]
    assert problem["code"] == "invalid_request", problem
    assert f"{field}: {REFUSED}" in problem["message"], problem


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/search", {"query": "signatures", "filters": {"source_prefix": "/" + NUL}},
         "filters.source_prefix"),
        ("/v1/search", {"query": "signatures", "filters": {"document_ids": ["a" + NUL + "b"]}},
         "filters.document_ids.0"),
        ("/v1/search", {"query": "sign" + NUL + "atures"}, "query"),
        ("/v1/search", {"query": "signatures", "collection": "hr" + NUL}, "collection"),
        ("/v1/ask", {"question": "who signs?" + NUL}, "question"),
        ("/v1/ask", {"question": "who signs?", "filters": {"source_prefix": NUL}},
         "filters.source_prefix"),
        ("/v1/ask", {"question": "who signs?", "history": [user("the " + NUL + "clerk")]},
         "history.0.content"),
        ("/v1/chat/completions", {"model": "hr" + NUL, "messages": [user("who signs?")]},
         "model"),
        ("/v1/chat/completions", {"model": "cited", "messages": [user("who" + NUL + "?")]},
         "messages.0.content"),
        ("/v1/chat/completions",
         {"model": "cited", "messages": [user([{"type": "text", "text": "who" + NUL}])]},
         "messages.0.content.list[TextPart].0.text"),
        ("/v1/collections", {"name": "hr" + NUL}, "name"),
    ],
)  # fmt: skip
def test_a_nul_in_a_json_body_is_refused_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    assert_refused(client, "POST", path, field, json=body)


def test_a_nul_in_a_form_field_is_refused_naming_the_field(client: TestClient) -> None:
    assert_refused(
        client,
        "POST",
        "/v1/documents",
        "collection",
        data={"collection": "hr" + NUL},
        files=[("files", ("notes.txt", b"The clerk signs.", "text/plain"))],
    )


def test_a_nul_in_a_query_parameter_is_refused_naming_it(client: TestClient) -> None:
    params = {"collection": "hr" + NUL}
    assert_refused(client, "GET", "/v1/documents", "query.collection", params=params)


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/v1/documents/a%00b", "path.document_id"),
        ("GET", "/v1/documents/%00/text", "path.document_id"),
        ("GET", "/v1/documents/%00/file", "path.document_id"),
        ("DELETE", "/v1/documents/a%00b", "path.document_id"),
        ("DELETE", "/v1/collections/hr%00", "path.name"),
    ],
)
def test_a_nul_in_a_path_parameter_is_refused_naming_it(
    client: TestClient, method: str, path: str, field: str
) -> None:
    assert_refused(client, method, path, field)
    without = client.request(method, path.replace("%00", ""))
    assert without.status_code == 404, without.text  # the same request, NUL-free: not found
