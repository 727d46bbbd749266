"""One error tree (index/errors.py): every error cited raises has its own code and status,
and the API answers each in the one shape `{"error": {"code", "message"}}`, from a route
or from middleware alike."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index import errors, writer_lock
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
        ({"question": "   "}, 422, "blank"),
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


def test_a_blank_question_is_an_invalid_request_everywhere(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        answers = [
            client.post("/v1/ask", json={"question": " \t\n"}),
            client.post("/v1/search", json={"query": "   "}),
            client.post(
                "/v1/chat/completions",
                json={"model": "cited", "messages": [{"role": "user", "content": "  "}]},
            ),
        ]
        spec = client.get("/openapi.json").json()["components"]["schemas"]
    assert [a.status_code for a in answers] == [422, 422, 400]
    assert {a.json()["error"]["code"] for a in answers} == {"invalid_request"}
    assert "question: is blank" in answers[0].json()["error"]["message"]
    assert "query: is blank" in answers[1].json()["error"]["message"]
    pattern = re.compile(spec["AskRequest"]["properties"]["question"]["pattern"])
    assert pattern.search("bees?") and not pattern.search(" \t ") and not pattern.search("a\x00")


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/ask", {"question": "How many hives?", "collection": "nosuch"}),
        ("/v1/ask", {"question": "How many hives?", "collection": "nosuch", "stream": True}),
        ("/v1/search", {"query": "hives", "collection": "nosuch"}),
    ],
)
def test_an_unknown_collection_is_a_404_naming_it(
    tmp_path: Path, route: str, body: dict[str, object]
) -> None:
    with app_client(tmp_path / "data") as client:
        client.post("/v1/collections", json={"name": "bees"})
        answer = client.post(route, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "not_found"
    assert "'nosuch'" in answer.json()["error"]["message"]


def test_deleting_an_unknown_collection_while_another_process_writes_is_a_404(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with app_client(data) as client:
        assert client.post("/v1/collections", json={"name": "bees"}).status_code == 201
        with writer_lock(data, f"sqlite:///{data / 'cited.db'}"):  # as `cited ingest` holds it
            missing = client.delete("/v1/collections/nosuch")
            busy = client.delete("/v1/collections/bees")
        done = client.delete("/v1/collections/bees")
    assert missing.status_code == 404, missing.text
    assert "'nosuch'" in missing.json()["error"]["message"]
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "writer_locked"
    assert done.status_code == 200


@pytest.mark.parametrize(
    ("content", "headers", "says"),
    [
        (b'{"question": nope}', {"Content-Type": "application/json"}, "line 1, column 14"),
        (b'{\n  "question":\n  nope}', {"Content-Type": "application/json"}, "line 3, column 3"),
        (b'{"question": "bees?"}', {}, "no Content-Type"),
        (b'{"question": "bees?"}', {"Content-Type": "text/plain"}, "Content-Type: text/plain"),
        (b'["bees?"]', {"Content-Type": "application/json"}, "not an object"),
        (b"", {"Content-Type": "application/json"}, "no body"),
    ],
)
def test_a_body_that_is_not_a_json_object_says_what_to_send(
    tmp_path: Path, content: bytes, headers: dict[str, str], says: str
) -> None:
    with app_client(tmp_path / "data") as client:
        answer = client.post("/v1/ask", content=content, headers=headers)
    assert answer.status_code == 422
    problem = answer.json()["error"]
    assert problem["code"] == "invalid_request"
    assert says in problem["message"], problem
    assert 'send a JSON object such as {"question": ' in problem["message"], problem
    assert problem["message"].endswith("with Content-Type: application/json"), problem


def test_each_route_names_its_own_example_body(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        search = client.post("/v1/search", content=b"{")
        collections = client.post("/v1/collections", content=b"{")
        chat = client.post("/v1/chat/completions", content=b"{")
    assert '{"query": ' in search.json()["error"]["message"]
    assert '{"name": "hr"}' in collections.json()["error"]["message"]
    assert '"messages": [' in chat.json()["error"]["message"]


def test_generative_mode_without_a_model_server_names_the_api_field(tmp_path: Path) -> None:
    with app_client(tmp_path / "data") as client:
        for stream in (False, True):
            answer = client.post(
                "/v1/ask", json={"question": "bees?", "mode": "generative", "stream": stream}
            )
            assert answer.status_code == 400, answer.text
            message = answer.json()["error"]["message"]
            assert '"mode": "extractive"' in message and "--mode" not in message, message
