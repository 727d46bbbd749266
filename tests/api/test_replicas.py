"""Several servers over one PostgreSQL store, each with a data dir of its own (as on
different machines) and one shared folder for uploaded originals (CITED_FILES_DIR): what
one is given, the others answer from and cite; what one deletes, none cites again;
uploads through two at once both land, one after the other (the store's advisory writer
lock); a server killed mid-upload leaves no half document and the others go on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.api.server import running_server, server_process
from tests.conftest import POSTGRES_URL, _reset_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LIGHTHOUSE = (
    "The Quayside lighthouse\n\n"
    "The Quayside lighthouse was built in 1862 by the engineer Tobias Wren. "
    "Its lamp was converted to electricity in 1931.\n"
)
QUESTION = "When was the lamp of the Quayside lighthouse converted to electricity?"


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    _reset_postgres(POSTGRES_URL)
    top = tmp_path_factory.mktemp("replicas")
    env = {"CITED_DATABASE_URL": POSTGRES_URL, "CITED_FILES_DIR": str(top / "shared-files")}
    with (
        running_server(top / "a", top / "a.log", env) as a,
        running_server(top / "b", top / "b.log", env) as b,
        httpx.Client(base_url=a, timeout=120) as client_a,
        httpx.Client(base_url=b, timeout=120) as client_b,
    ):
        yield SimpleNamespace(a=client_a, b=client_b, top=top, env=env)


def upload(client: httpx.Client, name: str, text: str, wait: bool = True) -> dict[str, Any]:
    response = client.post(
        f"/v1/documents?wait={str(wait).lower()}",
        files={"files": (name, text.encode(), "text/plain")},
    )
    assert response.status_code == (200 if wait else 202), response.text
    job: dict[str, Any] = response.json()
    return job


def cited_ids(client: httpx.Client, question: str) -> set[str]:
    answer = client.post("/v1/ask", json={"question": question})
    assert answer.status_code == 200, answer.text
    return {c["document_id"] for c in answer.json()["citations"]}


def test_an_upload_through_one_is_cited_through_the_other(replicas: SimpleNamespace) -> None:
    (file,) = upload(replicas.a, "lighthouse.txt", LIGHTHOUSE)["files"]
    assert file["status"] == "added", file
    landed = time.monotonic()
    while file["document_id"] not in cited_ids(replicas.b, QUESTION):
        assert time.monotonic() - landed < 1.0, "not cited through the other server in 1 s"
    original = replicas.b.get(f"/v1/documents/{file['document_id']}/file")
    assert original.status_code == 200 and original.content == LIGHTHOUSE.encode()

    assert replicas.a.delete(f"/v1/documents/{file['document_id']}").status_code == 200
    for client in (replicas.b, replicas.a):
        assert file["document_id"] not in cited_ids(client, QUESTION)
        assert client.get(f"/v1/documents/{file['document_id']}").status_code == 404


def test_uploads_through_two_servers_at_once_both_land(replicas: SimpleNamespace) -> None:
    texts = {
        "north.txt": "The north pier was lengthened in 1901 to take the larger ferries.\n",
        "south.txt": "The south pier was closed in 1988 after storm damage to its deck.\n",
    }
    jobs: dict[str, dict[str, Any]] = {}

    def send(client: httpx.Client, name: str) -> None:
        jobs[name] = upload(client, name, texts[name])

    threads = [
        threading.Thread(target=send, args=(replicas.a, "north.txt")),
        threading.Thread(target=send, args=(replicas.b, "south.txt")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {name: job["files"][0]["status"] for name, job in jobs.items()} == {
        "north.txt": "added",
        "south.txt": "added",
    }
    for client in (replicas.a, replicas.b):
        listed = client.get("/v1/documents").json()["documents"]
        assert {Path(d["source"]).name for d in listed} >= set(texts)


def test_a_server_killed_mid_upload_leaves_no_half_document(replicas: SimpleNamespace) -> None:
    paragraphs = [
        f"Ledger entry {n}: the harbour board recorded {n} tonnes of cargo landed at berth "
        f"{n % 7} during the week, with pilots on duty around the clock." * 3
        for n in range(600)
    ]
    text = "\n\n".join(paragraphs) + "\n"
    top = replicas.top
    with server_process(top / "c", top / "c.log", replicas.env) as (base, process):
        with httpx.Client(base_url=base, timeout=120) as client_c:
            job = upload(client_c, "ledger.txt", text, wait=False)
            deadline = time.monotonic() + 60
            while client_c.get(f"/v1/jobs/{job['id']}").json()["status"] != "running":
                assert time.monotonic() < deadline, "the upload's job never started"
                time.sleep(0.05)
        time.sleep(1.0)  # parsing and embedding under way
        process.kill()
        process.wait()

    assert cited_ids(replicas.b, "When was the south pier closed?")  # B goes on answering
    sources = {Path(d["source"]).name for d in replicas.b.get("/v1/documents").json()["documents"]}
    # Whatever C got to, the next upload finishes the job: the lock C held is free, and a
    # document it committed is complete (so it is unchanged), else it is added now.
    (again,) = upload(replicas.b, "ledger.txt", text)["files"]
    assert again["status"] == ("unchanged" if "ledger.txt" in sources else "added"), again
    whole = replicas.b.get(f"/v1/documents/{again['document_id']}/text").text
    assert all(f"Ledger entry {n}:" in whole for n in range(600))
