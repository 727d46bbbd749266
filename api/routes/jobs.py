"""GET /v1/jobs and /v1/jobs/{id}: the ingestion jobs that uploads start, and their files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Reader, ServicesDep
from api.schemas import AUTH_ERRORS, ErrorResponse, JobList, JobOut
from index import NotFoundError

router = APIRouter(prefix="/v1", tags=["documents"])


@router.get("/jobs", response_model=JobList, responses=AUTH_ERRORS)
def list_jobs(services: ServicesDep, key: Reader) -> dict[str, Any]:
    """The ingestion queue (which job runs and for how long, which wait), and recent jobs
    (kept in memory since the server started), newest first. A key sees its collections'
    jobs only."""
    runner = services.jobs
    jobs = [j for j in runner.jobs() if key is None or key.allows(j.collection)]
    queue = runner.queue_state()
    if key is not None:
        running = queue["running"]
        if running is not None and not key.allows(running["collection"]):
            queue["running"] = None
        queue["queued"] = [j for j in queue["queued"] if key.allows(j["collection"])]
    return {"queue": queue, "jobs": [runner.snapshot(j) for j in jobs]}


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    responses={404: {"model": ErrorResponse}, **AUTH_ERRORS},
)
def get_job(job_id: str, services: ServicesDep, key: Reader) -> dict[str, Any]:
    """An ingestion job: status (queued, waiting for another writer, running, done, failed,
    interrupted by a server stop), progress, and each file's outcome (shown as soon as it
    is known)."""
    job = services.jobs.get(job_id)
    if key is not None and not key.allows(job.collection):
        raise NotFoundError(f"no job with id {job_id!r}")
    return services.jobs.snapshot(job)
