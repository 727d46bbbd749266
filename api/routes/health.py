"""GET /healthz (alive), GET /readyz (models loaded, store reachable, vectors in step) and
GET /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from api.deps import Reader, Services, ServicesDep
from api.schemas import AUTH_ERRORS
from index import CitedError
from index.replica import ReplicaReads

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> dict[str, Any]:
    """Alive, with the number of documents and chunks in the store."""
    return {
        "status": "ok",
        "documents": services.store.count_documents(),
        "chunks": services.store.count_chunks(),
    }


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, str]
    vector_index: dict[str, Any] | None = Field(
        None, description="The FAISS index's kind, parameters, vectors and memory (MB)."
    )
    read_replica: dict[str, Any] | None = Field(
        None,
        description="With CITED_DATABASE_READ_URL: the standby, its store generation, how "
        "many generations it is behind the primary, and where reads go now.",
    )


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: the failing checks."}},
)
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to answer: the embedding and reading models are loaded, the store answers, and the vector
    index holds exactly the store's chunks. 503 with the failing checks otherwise."""
    checks: dict[str, str] = {}
    index: dict[str, object] | None = None
    try:
        services.store.state()
        checks["store"] = "ok"
    except CitedError as exc:
        checks["store"] = exc.message
    checks["model"] = "ok" if services.embedder.loaded else "not loaded"
    checks["reading_models"] = "ok" if services.answers.models_loaded else "not loaded"
    if checks["store"] == "ok":
        try:
            checks["vectors"], index = _vectors_in_step(services)
        except CitedError as exc:
            checks["vectors"] = exc.message
    ready = all(value == "ok" for value in checks.values())
    reads = services.store.reads
    replica = reads.describe() if isinstance(reads, ReplicaReads) else None
    return JSONResponse(
        {"ready": ready, "checks": checks, "vector_index": index, "read_replica": replica},
        status_code=200 if ready else 503,
    )


def _vectors_in_step(services: Services) -> tuple[str, dict[str, Any] | None]:
    """("ok" or what differs, the index's description)."""
    differs = services.kb.out_of_step()
    vectors = services.kb.vectors()
    return differs or "ok", vectors.describe() if vectors is not None else None


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format."},
        **AUTH_ERRORS,
    },
)
def metrics(services: ServicesDep, key: Reader) -> Response:
    """Prometheus metrics: requests and latency by route and status, answers by outcome,
    files and chunks ingested through the API, documents, chunks and vectors in the index."""
    return Response(
        services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
