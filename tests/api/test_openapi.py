"""/openapi.json says what the running server does (api/openapi.py), and the answers the
campaign's schemathesis run caught are right. In-process: no server, no model."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.app import app_client

KEY = "cited-openapi-test-key-0123456789"


def test_without_keys_no_route_asks_for_credentials(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        schema = client.get("/openapi.json").json()
    assert "securitySchemes" not in schema.get("components", {})
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "security" not in operation, (method, path)
            assert "401" not in operation["responses"], (method, path)
    ask = schema["components"]["schemas"]["AskRequest"]["properties"]["mode"]
    assert {"type": "string", "enum": ["extractive"]} in ask["anyOf"]  # no language model set


def test_with_keys_every_api_route_asks_for_a_bearer_token(tmp_path: Path) -> None:
    with app_client(tmp_path / "data", api_keys=KEY) as client:
        schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        if path.startswith("/v1/") or path == "/metrics":
            for method, operation in operations.items():
                assert operation["security"] == [{"HTTPBearer": []}], (method, path)
                assert "401" in operation["responses"], (method, path)


def test_every_error_answer_is_declared_as_the_error_shape(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        schema = client.get("/openapi.json").json()
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and path != "/readyz":
                    assert response["content"] == error, (method, path, status)
    text = schema["paths"]["/v1/documents/{document_id}/text"]["get"]["responses"]["404"]
    assert text["content"] == error  # not text/plain, as the route's own answers are


def test_an_offset_too_large_for_sql_is_refused(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        huge = client.get("/v1/documents?limit=831&offset=283369478604717061870108333309952")
        assert huge.status_code == 422 and "offset" in huge.json()["error"]["message"]
        assert client.get("/v1/documents?offset=1000000000").status_code == 200


def test_a_method_a_path_does_not_take_is_answered_with_all_it_takes(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        trace = client.request("TRACE", "/healthz")
        assert trace.status_code == 405 and trace.headers["allow"] == "GET"
        options = client.request("OPTIONS", "/v1/documents")
        assert options.status_code == 405 and options.headers["allow"] == "GET, POST"
        assert options.json()["error"]["code"] == "method_not_allowed"


def test_request_bodies_are_typed_strictly(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        for body in ({"query": "tides", "top_k": "5"}, {"query": "tides", "top_k": 2.5}):
            refused = client.post("/v1/search", json=body)
            assert refused.status_code == 422 and "top_k" in refused.json()["error"]["message"]
        streamed = client.post("/v1/ask", json={"question": "When?", "stream": 0})
        assert streamed.status_code == 422 and "stream" in streamed.json()["error"]["message"]
