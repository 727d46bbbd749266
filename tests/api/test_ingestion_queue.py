"""The ingestion queue over real HTTP: files whose text is huge fail with the chunk cap and
the jobs behind them go on, every job ends, and the queue's state (what runs, for how long,
what waits) is shown by GET /v1/jobs and /metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from index import WriterLock
from tests.api.server import running_server
from tests.files import write_huge_text_files

pytestmark = pytest.mark.slow

ENV = {
    "CITED_PARSE_WORKERS": "1",
    "CITED_MAX_FILE_MB": "1",
    "CITED_MAX_CHUNKS_PER_FILE": "100",
}
FINAL = {"done", "failed", "interrupted"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    data = tmp_path / "data"
    with (
        running_server(data, tmp_path / "server.log", ENV) as base,
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        yield client, data
    assert "Traceback" not in (tmp_path / "server.log").read_text()


def send(client: httpx.Client, files: dict[str, bytes]) -> str:
    response = client.post(
        "/v1/documents",
        files=[("files", (name, body, "application/octet-stream")) for name, body in files.items()],
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def settled(client: httpx.Client, job_ids: list[str], timeout_s: float = 300) -> list[Any]:
    """The jobs, once every one has ended."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = [client.get(f"/v1/jobs/{job_id}").json() for job_id in job_ids]
        if all(job["status"] in FINAL for job in jobs):
            return jobs
        assert time.monotonic() < deadline, jobs
        time.sleep(0.2)


def test_huge_texts_fail_with_the_chunk_cap_and_every_job_ends(
    server: tuple[httpx.Client, Path], tmp_path: Path
) -> None:
    client, _ = server
    huge = write_huge_text_files(tmp_path / "huge")
    job_ids = [
        send(client, {name: path.read_bytes(), f"note{i}.txt": f"Locker {i} is blue.\n".encode()})
        for i, (name, path) in enumerate(huge.items())
    ]
    jobs = settled(client, job_ids)
    for i, (job, name) in enumerate(zip(jobs, huge, strict=True)):
        files = {f["name"]: f for f in job["files"]}
        assert job["status"] == "done", job
        assert files[name]["status"] == "failed", files[name]
        assert "CITED_MAX_CHUNKS_PER_FILE" in files[name]["reason"]
        assert files[f"note{i}.txt"]["status"] == "added"
    listed = client.get("/v1/jobs").json()
    assert {j["id"]: j["status"] for j in listed["jobs"]} == dict.fromkeys(job_ids, "done")
    assert listed["queue"] == {"stopping": False, "running": None, "queued": []}
    assert client.get("/v1/documents").json()["total"] == len(huge)


def gauge(metrics: str, name: str) -> float:
    (line,) = [line for line in metrics.splitlines() if line.startswith(name + " ")]
    return float(line.split()[-1])


def test_the_queue_shows_what_runs_for_how_long_and_what_waits(
    server: tuple[httpx.Client, Path],
) -> None:
    client, data = server
    with WriterLock(data):  # another writer: the first job waits for it, the second behind
        first = send(client, {"a.txt": b"The north gate opens at seven.\n"})
        second = send(client, {"b.txt": b"The south gate opens at eight.\n"})
        deadline = time.monotonic() + 60
        while client.get(f"/v1/jobs/{first}").json()["status"] != "waiting":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.1)
        queue = client.get("/v1/jobs").json()["queue"]
        assert queue["running"]["id"] == first and queue["running"]["status"] == "waiting"
        assert queue["running"]["seconds"] >= 1 and queue["running"]["files"] == 1
        assert [job["id"] for job in queue["queued"]] == [second]
        assert queue["queued"][0]["seconds"] >= 1
        metrics = client.get("/metrics").text
        assert gauge(metrics, 'cited_ingest_jobs{state="waiting"}') == 1
        assert gauge(metrics, 'cited_ingest_jobs{state="queued"}') == 1
        assert gauge(metrics, 'cited_ingest_jobs{state="running"}') == 0
        assert gauge(metrics, "cited_ingest_running_job_seconds") >= 1
        assert gauge(metrics, "cited_ingest_queued_job_seconds") >= 1
    assert [job["status"] for job in settled(client, [first, second])] == ["done", "done"]
    metrics = client.get("/metrics").text
    assert gauge(metrics, 'cited_ingest_jobs{state="queued"}') == 0
    assert gauge(metrics, "cited_ingest_running_job_seconds") == 0
