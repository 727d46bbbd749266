"""One error tree (index/errors.py): every error cited raises has its own code and status,
and the API answers each in the one shape `{"error": {"code", "message"}}`, from a route
or from middleware alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import errors
from index.errors import CitedError
from tests.helpers.app import app_client


def every_error() -> list[type[CitedError]]:
    found, todo = [], [CitedError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


def test_the_tree_is_one_module_with_distinct_codes() -> None:
    classes = every_error()
    assert all(cls.__module__ == errors.__name__ for cls in classes), [
        f"{cls.__module__}.{cls.__name__}" for cls in classes if cls.__module__ != errors.__name__
    ]
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), codes
    for cls in classes:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls
        assert 400 <= cls.status <= 599 and cls.exit_code in (1, 2), cls
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} is not in the tree drawn"


@pytest.mark.parametrize("cls", every_error(), ids=lambda c: c.__name__)
def test_a_route_answers_each_error_with_its_status_and_shape(
    tmp_path: Path, cls: type[CitedError]
) -> None:
    with app_client(tmp_path / "data") as client:

        def fail() -> None:
            raise cls(f"what went wrong, and the fix ({cls.__name__})")

        client.app.add_api_route("/fail", fail)  # type: ignore[attr-defined]
        answer = client.get("/fail")
    assert answer.status_code == cls.status
    assert answer.json() == {
        "error": {"code": cls.code, "message": f"what went wrong, and the fix ({cls.__name__})"}
    }
    if cls.status == 401:
        assert answer.headers["www-authenticate"] == "Bearer"


def test_middleware_answers_in_the_same_shape(tmp_path: Path) -> None:
    with app_client(tmp_path / "data", max_body_kb=1) as client:
        too_big = client.post("/v1/search", content=b"{" + b" " * 4096 + b"}")
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == errors.TooLarge.code
        streamed = client.post(  # no Content-Length: refused while FastAPI reads the body
            "/v1/search",
            content=iter([b"{", b" " * 4096, b"}"]),
            headers={"content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == errors.TooLarge.code
        wrong_host = TestClient(client.app, base_url="http://rebind.example").get("/healthz")
        assert wrong_host.status_code == 400
        assert wrong_host.json()["error"]["code"] == errors.HostNotAllowed.code


def test_bad_requests_are_json_with_a_code_and_a_message(tmp_path: Path) -> None:
    cases = [
        ({"question": ""}, 422, "question"),
        ({"question": "bees?", "top_k": 0}, 422, "top_k"),
        ({"question": "bees?", "mode": "poetic"}, 422, "mode"),
        ({"question": "bees?", "colour": "red"}, 422, "colour"),
        ({"question": "   "}, 400, "empty"),
    ]
    with app_client(tmp_path / "data") as client:
        for body, status, word in cases:
            response = client.post("/v1/ask", json=body)
            assert response.status_code == status, (body, response.text)
            problem = response.json()["error"]
            assert problem["code"] and word in problem["message"], problem
        broken = client.post(
            "/v1/ask", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert broken.status_code == 422 and broken.json()["error"]["code"] == "invalid_request"
        missing = client.get("/v1/nothing-here")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
