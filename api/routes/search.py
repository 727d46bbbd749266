"""POST /v1/search: passages for a query."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import Asker, ServicesDep, request_scope
from api.schemas import (
    AUTH_ERRORS,
    ErrorResponse,
    PassageOut,
    SearchRequest,
    SearchResponse,
)

router = APIRouter(prefix="/v1", tags=["search"])


@router.post(
    "/search",
    response_model=SearchResponse,
    responses={
        400: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        **AUTH_ERRORS,
    },
)
def search(body: SearchRequest, services: ServicesDep, key: Asker) -> SearchResponse:
    """The passages that best match the query, best first: hybrid (dense + full text, fused)
    unless `mode` says otherwise. `collection` and `filters` narrow where it looks."""
    passages = services.retriever.search(
        body.query,
        body.top_k or services.settings.top_k,
        body.mode,
        request_scope(services.store, body.collection, body.filters, key),
    )
    return SearchResponse(passages=[PassageOut.of(p) for p in passages])
