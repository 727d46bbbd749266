"""GET /healthz (alive) and GET /readyz (models loaded, store reachable, vectors in step)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from index import CitedError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(services: ServicesDep) -> dict[str, Any]:
    """Alive, with the number of documents and chunks in the store."""
    return {
        "status": "ok",
        "documents": services.store.count_documents(),
        "chunks": services.store.count_chunks(),
    }


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to answer: the embedding model is loaded, the store answers, and the vector
    index holds exactly the store's chunks. 503 with the failing checks otherwise."""
    checks: dict[str, str] = {}
    try:
        chunks = services.store.count_chunks()
        checks["store"] = "ok"
    except CitedError as exc:
        checks["store"] = exc.message
        chunks = -1
    checks["model"] = "ok" if services.embedder.loaded else "not loaded"
    if checks["store"] == "ok":
        try:
            vectors = services.kb.vectors()
            indexed = len(vectors) if vectors is not None else 0
            checks["vectors"] = (
                "ok" if indexed == chunks else f"{indexed} vectors for {chunks} chunks"
            )
        except CitedError as exc:
            checks["vectors"] = exc.message
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
