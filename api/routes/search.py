"""POST /v1/search: passages for a query."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import ApiKey, check_collection
from api.deps import Asker, ServicesDep
from api.schemas import (
    AUTH_ERRORS,
    ErrorResponse,
    Filters,
    PassageOut,
    SearchRequest,
    SearchResponse,
)
from index import Scope
from retrieve import Passage

router = APIRouter(prefix="/v1", tags=["search"])


def scope(collection: str | None, filters: Filters | None, key: ApiKey | None) -> Scope:
    """Where to look: the request's collection and filters, within the key's collections."""
    filters = filters or Filters()
    if collection is not None:
        check_collection(key, collection)
    return Scope(
        collection=collection,
        document_ids=tuple(filters.document_ids),
        source_prefix=filters.source_prefix or None,
        collections=key.collections if key is not None else None,
    )


def passage_out(passage: Passage) -> PassageOut:
    return PassageOut(**passage.to_dict())


@router.post(
    "/search",
    response_model=SearchResponse,
    responses={400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, **AUTH_ERRORS},
)
def search(body: SearchRequest, services: ServicesDep, key: Asker) -> SearchResponse:
    """The passages that best match the query, best first: hybrid (dense + full text, fused)
    unless `mode` says otherwise. `collection` and `filters` narrow where it looks."""
    passages = services.retriever.search(
        body.query,
        body.top_k or services.settings.top_k,
        body.mode,
        scope(body.collection, body.filters, key),
    )
    return SearchResponse(passages=[passage_out(p) for p in passages])
