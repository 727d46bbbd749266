"""The REST API over real HTTP (`cited serve` on a free port, a corpus ingested by the CLI):
/v1/search, /v1/ask as JSON and as server-sent events, health checks, error bodies, and
/healthz answering while a slow answer is being generated."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from index import Store
from tests.answer.helpers import assert_contract
from tests.api.server import running_server, sse_events
from tests.corpus import ABSENT, QUESTIONS, write_corpus
from tests.helpers.cli import run_cited
from tests.openai_stub import Reply, Stub, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm() -> Iterator[Stub]:
    with serve() as stub:
        stub.replies(Reply("The rooftop apiary has nine hives of Carniolan bees [1].", delay=2.0))
        yield stub


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, llm: Stub) -> Iterator[SimpleNamespace]:
    top = tmp_path_factory.mktemp("http")
    folder = write_corpus(top / "corpus")
    assert run_cited(top / "data", "ingest", str(folder)).returncode == 0
    env = {"CITED_LLM_BASE_URL": llm.base_url, "CITED_LLM_MODEL": "stub-model"}
    log = top / "server.log"
    store = Store(f"sqlite:///{top / 'data' / 'cited.db'}")
    try:
        with (
            running_server(top / "data", log, env) as base,
            httpx.Client(base_url=base, timeout=60) as client,
        ):
            yield SimpleNamespace(
                client=client, base=base, folder=folder, kb=SimpleNamespace(store=store), log=log
            )
    finally:
        store.close()


def test_health_and_readiness(server: SimpleNamespace) -> None:
    health = server.client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 6 and health["chunks"] >= 6
    ready = server.client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert body["checks"] == {"store": "ok", "model": "ok", "reading_models": "ok", "vectors": "ok"}
    index = body["vector_index"]  # kind, parameters and memory, for operators
    assert index["kind"] == "flat" and index["vectors"] == health["chunks"]
    assert 0 < index["memory_mb"] < 1


def test_search_returns_passages_with_offsets_inside_the_scope(server: SimpleNamespace) -> None:
    found = server.client.post(
        "/v1/search", json={"query": "rye sourdough fermentation", "top_k": 3}
    )
    assert found.status_code == 200
    passages = found.json()["passages"]
    assert Path(passages[0]["source"]).name == "bakery.txt"
    text = server.kb.store.document_text(passages[0]["document_id"])
    assert text[passages[0]["start"] : passages[0]["end"]] == passages[0]["text"]
    scoped = server.client.post(
        "/v1/search",
        json={
            "query": "rye sourdough fermentation",
            "mode": "dense",
            "filters": {"source_prefix": str(server.folder / "harbour")},
        },
    ).json()["passages"]
    assert scoped and {Path(p["source"]).name for p in scoped} == {"harbour.md"}


def test_ask_answers_with_the_contract_and_abstains_when_it_must(server: SimpleNamespace) -> None:
    for question, (name, phrase) in list(QUESTIONS.items())[:6]:
        answer = server.client.post("/v1/ask", json={"question": question}).json()
        assert_contract(answer, server.kb)
        assert not answer["abstained"] and phrase in answer["citations"][0]["quote"], question
        assert Path(answer["citations"][0]["source"]).name == name
    declined = server.client.post("/v1/ask", json={"question": ABSENT[0]}).json()
    assert_contract(declined, server.kb)
    assert declined["abstained"] and declined["reason"]


def test_a_follow_up_with_history_is_made_standalone(server: SimpleNamespace) -> None:
    history = [
        {"role": "user", "content": "Who is the head baker at the Alder Street Bakery?"},
        {"role": "assistant", "content": "Tomasz Wilk is the head baker [1]."},
    ]
    alone = server.client.post("/v1/ask", json={"question": "Where did he train?"}).json()
    assert alone["question"] == "Where did he train?"
    followed = server.client.post(
        "/v1/ask", json={"question": "Where did he train?", "history": history}
    ).json()
    assert_contract(followed, server.kb)
    assert (
        followed["question"].startswith("Where did he train? (") and "Wilk" in followed["question"]
    )
    assert "Kraków" in followed["answer"], followed
    too_long = server.client.post(
        "/v1/ask", json={"question": "And then?", "history": history * 11}
    )
    assert too_long.status_code == 422 and "history" in too_long.json()["error"]["message"]


def events(response: httpx.Response) -> list[tuple[str | None, Any]]:
    return sse_events(response.iter_lines())


@pytest.mark.parametrize("how", ["body", "accept"])
def test_ask_streams_passages_deltas_then_the_verified_answer(
    server: SimpleNamespace, how: str
) -> None:
    question = "How long is the rye sourdough fermented?"
    body: dict[str, Any] = {"question": question}
    headers = {}
    if how == "body":
        body["stream"] = True
    else:
        headers["Accept"] = "text/event-stream"
    with server.client.stream("POST", "/v1/ask", json=body, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = events(response)
    kinds = [kind for kind, _ in received]
    assert kinds[0] == "passages" and kinds[-1] == "final" and "delta" in kinds
    assert received[0][1]["passages"][0]["text"]
    final = received[-1][1]
    assert_contract(final, server.kb)
    whole = server.client.post("/v1/ask", json={"question": question}).json()
    assert final["answer"] == whole["answer"] and final["citations"] == whole["citations"]


def test_healthz_answers_while_a_slow_answer_is_generated(
    server: SimpleNamespace, llm: Stub
) -> None:
    result: dict[str, Any] = {}

    def slow_ask() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as other:
            result["answer"] = other.post(
                "/v1/ask",
                json={
                    "question": "How many hives are in the rooftop apiary?",
                    "mode": "generative",
                },
            ).json()

    asker = threading.Thread(target=slow_ask)
    asker.start()
    time.sleep(0.5)  # the model takes 2 s to reply
    started = time.perf_counter()
    assert server.client.get("/healthz").status_code == 200
    waited = time.perf_counter() - started
    asker.join()
    assert waited < 1.0, waited
    answer = result["answer"]
    assert_contract(answer, server.kb)
    assert not answer["abstained"] and answer["model"] == "stub-model"
    assert "nine hives" in answer["citations"][0]["quote"]


def test_openapi_documents_the_routes_with_examples(server: SimpleNamespace) -> None:
    spec = server.client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/healthz", "/readyz"} <= set(spec["paths"])
    ask = spec["paths"]["/v1/ask"]["post"]
    assert "exact quote" in ask["description"]
    answer = ask["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["$ref"] == "#/components/schemas/AnswerOut"
    contract = spec["components"]["schemas"]["AnswerOut"]
    assert contract["examples"][0]["citations"][0]["quote"]
    assert set(contract["required"]) >= {"answer", "abstained", "citations", "sentences"}
