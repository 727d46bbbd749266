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
    """Recent ingestion jobs (kept in memory since the server started), newest first."""
    jobs = [j for j in services.jobs.jobs() if key is None or key.allows(j.collection)]
    return {"jobs": [services.jobs.snapshot(j) for j in jobs]}


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    responses={404: {"model": ErrorResponse}, **AUTH_ERRORS},
)
def get_job(job_id: str, services: ServicesDep, key: Reader) -> dict[str, Any]:
    """An ingestion job: status (queued, waiting for another writer, running, done, failed),
    progress, and each file's outcome."""
    job = services.jobs.get(job_id)
    if key is not None and not key.allows(job.collection):
        raise NotFoundError(f"no job with id {job_id!r}")
    return services.jobs.snapshot(job)
