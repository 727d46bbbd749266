"""Documents, jobs, collections, limits and metrics over real HTTP (`cited serve` on a free
port, starting empty: everything arrives by upload), plus writes by another process and
answers served while an upload ingests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.answer.helpers import assert_contract
from tests.api.server import http_texts, running_server
from tests.corpus import DOCUMENTS
from tests.files import GOOD_FACTS, make_pdf, write_good_corpus, write_stalling_files
from tests.helpers.cli import run_cited

pytestmark = pytest.mark.slow

ENV = {
    "CITED_UPLOAD_MAX_MB": "1",
    "CITED_UPLOAD_MAX_FILES": "16",
    "CITED_MAX_FILE_MB": "0.25",
    "CITED_MAX_BODY_KB": "16",
    "CITED_PARSE_WORKERS": "1",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    top = tmp_path_factory.mktemp("documents")
    with (
        running_server(top / "data", top / "server.log", ENV) as base,
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        yield SimpleNamespace(client=client, top=top, data=top / "data", log=top / "server.log")


def upload(
    client: httpx.Client,
    files: dict[str, bytes],
    collection: str | None = None,
    wait: bool = True,
) -> httpx.Response:
    return client.post(
        "/v1/documents",
        params={"wait": "true"} if wait else None,
        data={"collection": collection} if collection else None,
        files=[("files", (name, body, "application/octet-stream")) for name, body in files.items()],
    )


def outcomes(job: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {f["name"]: (f["status"], f["reason"]) for f in job["files"]}


def ask(client: httpx.Client, question: str, **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert_contract(answer, http_texts(client))
    return answer


@pytest.fixture(scope="module")
def corpus(server: SimpleNamespace) -> dict[str, Any]:
    """The test corpus uploaded in one job, with files that must fail."""
    good = write_good_corpus(server.top / "good")
    files = {name: text.encode() for name, text in DOCUMENTS.items()}
    files.update({name: (server.top / "good" / name).read_bytes() for name in good})
    files["../../escape.txt"] = b"The escape hatch on deck three opens only from inside.\n"
    files["fake.pdf"] = b"MZ\x90\x00 a program pretending to be a PDF"
    files["tool.exe"] = b"MZ\x90\x00"
    response = upload(server.client, files)
    return {"response": response, "files": files}


def test_an_upload_reports_each_file_and_keeps_the_originals(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    response = corpus["response"]
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "done" and job["collection"] == "default"
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    got = outcomes(job)
    for name in [*DOCUMENTS, *GOOD_FACTS, "escape.txt"]:
        assert got[name] == ("added", None), (name, got[name])
    assert got["fake.pdf"] == (
        "failed",
        "the content is a Windows executable, not a PDF as its .pdf extension says",
    )
    assert got["tool.exe"][0] == "failed" and "unsupported file type '.exe'" in str(
        got["tool.exe"][1]
    )
    stored = [f for f in job["files"] if f["status"] == "added"]
    assert job["progress"] == {
        "files": len(corpus["files"]),
        "files_done": len(corpus["files"]),
        "chunks_added": sum(f["chunks"] for f in job["files"]),
        "phase": None,  # the job has ended
        "files_parsed": job["progress"]["files_parsed"],
        "chunks_embedded": sum(f["chunks"] for f in stored),
    }
    assert len(stored) <= job["progress"]["files_parsed"] < len(corpus["files"])
    assert server.client.get(f"/v1/jobs/{job['id']}").json() == job
    assert (
        "access-control-allow-origin"
        not in server.client.get(
            "/healthz", headers={"Origin": "https://elsewhere.example"}
        ).headers
    )  # CORS is off unless configured
    # the traversal name was cut to its last component, kept inside the data dir
    escape = next(f for f in job["files"] if f["name"] == "escape.txt")
    document = server.client.get(f"/v1/documents/{escape['document_id']}").json()
    kept = Path(document["source"])
    assert kept.is_relative_to(server.data / "files") and kept.name == "escape.txt"
    assert not (server.top / "escape.txt").exists()
    assert not list((server.data / "files" / ".staging").glob("*/*"))


def test_uploading_again_is_unchanged_or_updated(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    again = upload(server.client, {"bakery.txt": DOCUMENTS["bakery.txt"].encode()}).json()
    assert outcomes(again) == {"bakery.txt": ("unchanged", None)}
    changed = DOCUMENTS["library.txt"] + "Members under 16 need a guardian's signature.\n"
    updated = upload(server.client, {"library.txt": changed.encode()}).json()
    assert outcomes(updated)["library.txt"] == ("updated", None)
    answer = ask(server.client, "Who must sign for members under 16?")
    assert any("guardian" in c["quote"] for c in answer["citations"])


def test_a_job_can_be_followed_while_it_runs(server: SimpleNamespace) -> None:
    text = "The Tarn valley observatory opens its dome on clear Thursday nights.\n"
    response = upload(server.client, {"observatory.md": text.encode()}, wait=False)
    assert response.status_code == 202
    job_id = response.json()["id"]
    seen = set()
    deadline = time.monotonic() + 120
    while True:
        job = server.client.get(f"/v1/jobs/{job_id}").json()
        seen.add(job["status"])
        if job["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["status"] == "done" and outcomes(job) == {"observatory.md": ("added", None)}
    assert seen <= {"queued", "running", "done"}
    assert any(j["id"] == job_id for j in server.client.get("/v1/jobs").json()["jobs"])
    missing = server.client.get("/v1/jobs/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_cited_quotes_slice_the_text_and_the_original_comes_back(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    answer = ask(server.client, "How much power did the Zephyr turbine produce in the storm?")
    assert not answer["abstained"]
    for citation in answer["citations"]:
        text = server.client.get(f"/v1/documents/{citation['document_id']}/text")
        assert text.headers["content-type"].startswith("text/plain")
        assert text.text[citation["start"] : citation["end"]] == citation["quote"]
    pdf = next(c for c in answer["citations"] if c["source"].endswith("report.pdf"))
    assert pdf["page"] == 2
    original = server.client.get(f"/v1/documents/{pdf['document_id']}/file")
    assert original.status_code == 200
    assert original.content == corpus["files"]["report.pdf"]
    assert original.headers["content-type"] == "application/pdf"
    assert original.headers["content-security-policy"] == "sandbox"
    listing = server.client.get("/v1/documents", params={"collection": "default", "limit": 100})
    html = next(d for d in listing.json()["documents"] if d["source"].endswith("page.html"))
    page = server.client.get(f"/v1/documents/{html['id']}/file")
    assert page.headers["content-disposition"].startswith("attachment")


def test_documents_are_listed_a_page_at_a_time(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    everything = server.client.get("/v1/documents", params={"limit": 1000}).json()
    total = everything["total"]
    assert total == len(everything["documents"]) >= len(DOCUMENTS) + len(GOOD_FACTS)
    first = server.client.get("/v1/documents", params={"limit": 3}).json()
    second = server.client.get("/v1/documents", params={"limit": 3, "offset": 3}).json()
    assert first["total"] == second["total"] == total
    ids = [d["id"] for d in first["documents"] + second["documents"]]
    assert ids == [d["id"] for d in everything["documents"][:6]]
    one = everything["documents"][0]
    assert server.client.get(f"/v1/documents/{one['id']}").json() == one
    assert server.client.get("/v1/documents", params={"limit": 0}).status_code == 422
    assert server.client.get("/v1/documents", params={"collection": "none"}).json()["total"] == 0
    assert server.client.get("/v1/documents/nope").status_code == 404


def test_a_deleted_document_is_never_cited_again(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    question = "How often does the lighthouse keeper log the tide?"
    cited = {c["source"] for c in ask(server.client, question)["citations"]}
    notes = next(s for s in cited if s.endswith("notes.txt"))
    listing = server.client.get("/v1/documents", params={"limit": 1000}).json()["documents"]
    document = next(d for d in listing if d["source"] == notes)
    deleted = server.client.delete(f"/v1/documents/{document['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {
        "deleted": document["id"],
        "documents": 1,
        "chunks": document["chunks"],
    }
    for mode in ("dense", "lexical", "hybrid"):
        found = server.client.post("/v1/search", json={"query": question, "mode": mode}).json()
        assert all(p["document_id"] != document["id"] for p in found["passages"]), mode
    assert all(
        c["document_id"] != document["id"] for c in ask(server.client, question)["citations"]
    )
    assert server.client.get(f"/v1/documents/{document['id']}").status_code == 404
    assert not Path(notes).exists()
    assert server.client.delete(f"/v1/documents/{document['id']}").status_code == 404


def test_collections_are_created_listed_and_deleted(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    client = server.client
    created = client.post("/v1/collections", json={"name": "hr"})
    assert created.status_code == 201 and created.json()["documents"] == 0
    assert client.post("/v1/collections", json={"name": "hr"}).status_code == 409
    bad = client.post("/v1/collections", json={"name": "tab\there"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    fact = "New staff at Corvid Ltd get 27 days of paid leave a year."
    job = upload(client, {"leave.txt": fact.encode()}, collection="hr").json()
    assert outcomes(job) == {"leave.txt": ("added", None)}
    listed = {c["name"]: c for c in client.get("/v1/collections").json()["collections"]}
    assert listed["hr"]["documents"] == 1 and listed["hr"]["chunks"] >= 1
    assert listed["default"]["documents"] >= len(DOCUMENTS)
    scoped = ask(client, "How many days of paid leave do new staff get?", collection="hr")
    assert [c["quote"] for c in scoped["citations"]] == [fact]

    deleted = client.delete("/v1/collections/hr")
    assert deleted.status_code == 200 and deleted.json()["documents"] == 1
    assert "hr" not in {c["name"] for c in client.get("/v1/collections").json()["collections"]}
    search = client.post("/v1/search", json={"query": "paid leave", "collection": "hr"})
    assert search.status_code == 404 and "'hr'" in search.json()["error"]["message"]
    assert client.delete("/v1/collections/hr").status_code == 404


def test_limits_on_files_bodies_and_questions(server: SimpleNamespace) -> None:
    client = server.client
    many = upload(client, {f"n{i}.txt": b"a note" for i in range(17)})
    assert many.status_code == 413 and many.json()["error"]["code"] == "too_many_files"
    big = upload(client, {"big.txt": b"x" * (2**20 + 10)})
    assert big.status_code == 413 and big.json()["error"] == {
        "code": "payload_too_large",
        "message": "the request body is over the limit of 1 MB",
    }
    over = upload(client, {"over.txt": b"words " * 50_000})  # 300 KB > 0.25 MB per file
    status, reason = outcomes(over.json())["over.txt"]
    assert status == "failed" and "CITED_MAX_FILE_MB" in str(reason)

    def chunked() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 2**15

    streamed = client.post(
        "/v1/search", content=chunked(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    long_json = client.post("/v1/ask", json={"question": "x" * 20_000})
    assert long_json.status_code == 413
    too_long = client.post("/v1/ask", json={"question": "why " * 1100})
    assert too_long.status_code == 422 and "question" in too_long.json()["error"]["message"]
    assert "Traceback" not in server.log.read_text()


def test_metrics_count_requests_answers_and_ingestion(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    ask(server.client, "When was the Port of Kelling founded?")
    text = server.client.get("/metrics").text
    assert 'cited_http_requests_total{method="POST",route="/v1/ask",status="200"}' in text
    assert (
        'cited_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/v1/ask"}' in text
    )
    assert 'cited_answers_total{mode="extractive",outcome="answered"}' in text
    assert 'cited_ingested_files_total{status="added"}' in text
    assert 'route="/v1/documents/{document_id}"' in text  # templates, not raw ids
    documents = server.client.get("/v1/documents").json()["total"]
    assert f"cited_documents {float(documents)}" in text


def test_what_another_process_ingests_or_deletes_is_seen_without_restart(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    folder = server.top / "cli"
    folder.mkdir()
    fact = "The Selwyn tram depot repaints its carriages green every spring."
    (folder / "tram.txt").write_text(fact + "\n")
    done = run_cited(server.data, "ingest", str(folder))
    assert done.returncode == 0, done.stderr
    query = {"query": "When are the tram carriages repainted?", "mode": "dense", "top_k": 1}
    [hit] = server.client.post("/v1/search", json=query).json()["passages"]
    assert hit["text"] == fact
    assert run_cited(server.data, "docs", "rm", hit["document_id"]).returncode == 0
    after = server.client.post("/v1/search", json=query).json()["passages"]
    assert all(p["document_id"] != hit["document_id"] for p in after)
    ready = server.client.get("/readyz").json()
    assert ready["ready"], ready


def test_answers_keep_coming_while_an_upload_ingests(
    server: SimpleNamespace, corpus: dict[str, Any]
) -> None:
    files = {
        f"report{i}.pdf": make_pdf([[f"Survey {i}: the Morrow dunes moved {i + 2} metres."] * 40])
        for i in range(4)
    }
    started = upload(server.client, files, wait=False).json()
    failures: list[str] = []
    answers: list[dict[str, Any]] = []

    def asker() -> None:
        with httpx.Client(base_url=str(server.client.base_url), timeout=120) as client:
            for _ in range(4):
                response = client.post(
                    "/v1/ask", json={"question": "How many hives does the rooftop apiary have?"}
                )
                if response.status_code != 200:
                    failures.append(response.text)
                else:
                    answers.append(response.json())

    threads = [threading.Thread(target=asker) for _ in range(8)]
    for thread in threads:
        thread.start()
    health = server.client.get("/healthz", timeout=10)
    for thread in threads:
        thread.join()
    assert health.status_code == 200
    assert failures == [] and len(answers) == 32
    for answer in answers:
        assert_contract(answer, http_texts(server.client))
        assert any("nine hives" in c["quote"] for c in answer["citations"])
    deadline = time.monotonic() + 180
    while (job := server.client.get(f"/v1/jobs/{started['id']}").json())["status"] != "done":
        assert time.monotonic() < deadline and job["status"] != "failed", job
        time.sleep(0.2)
    assert {s for s, _ in outcomes(job).values()} == {"added"}


def test_a_file_that_stalls_its_parser_does_not_hold_later_uploads(tmp_path: Path) -> None:
    stalling = write_stalling_files(tmp_path / "stall")["brackets.md"].read_bytes()
    env = {**ENV, "CITED_PARSE_TIMEOUT_S": "3"}
    with (
        running_server(tmp_path / "data", tmp_path / "server.log", env) as base,
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        first = upload(client, {"brackets.md": stalling}, wait=False)
        assert first.status_code == 202, first.text
        started = time.monotonic()
        second = upload(client, {"ferry.txt": b"The last ferry to Vigra leaves at 23:40.\n"})
        assert second.status_code == 200, second.text
        assert outcomes(second.json())["ferry.txt"][0] == "added"
        assert time.monotonic() - started < 60
        job = client.get(f"/v1/jobs/{first.json()['id']}").json()
        status, reason = outcomes(job)["brackets.md"]
        assert job["status"] == "done" and status == "failed"
        assert "3 s" in (reason or "") and "CITED_PARSE_TIMEOUT_S" in (reason or "")
