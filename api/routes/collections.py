"""Collections: list, create, delete (with every document in them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.auth import check_collection
from api.deps import Deleter, Ingester, Reader, ServicesDep
from api.routes.documents import remove_collection_files
from api.schemas import (
    AUTH_ERRORS,
    CollectionCreate,
    CollectionList,
    CollectionOut,
    DeletedOut,
    ErrorResponse,
    NulFreeStr,
)
from index import CollectionInfo, NotFoundError

router = APIRouter(prefix="/v1", tags=["collections"])


def collection_out(info: CollectionInfo) -> CollectionOut:
    return CollectionOut(
        name=info.name,
        documents=info.documents,
        chunks=info.chunks,
        created_at=info.created_at.isoformat(),
    )


@router.get("/collections", response_model=CollectionList, responses=AUTH_ERRORS)
def list_collections(services: ServicesDep, key: Reader) -> CollectionList:
    """Collections (those the API key may use) with their document and chunk counts."""
    infos = services.store.collection_infos()
    return CollectionList(
        collections=[collection_out(i) for i in infos if key is None or key.allows(i.name)]
    )


@router.post(
    "/collections",
    status_code=201,
    response_model=CollectionOut,
    responses={409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, **AUTH_ERRORS},
)
def create_collection(
    body: CollectionCreate, services: ServicesDep, key: Ingester
) -> CollectionOut:
    """Create an empty collection (uploading into a new name creates it too)."""
    check_collection(key, body.name)
    services.store.create_collection(body.name)
    return next(collection_out(i) for i in services.store.collection_infos() if i.name == body.name)


@router.delete(
    "/collections/{name:path}",
    response_model=DeletedOut,
    responses={404: {"model": ErrorResponse}, 409: {"model": ErrorResponse}, **AUTH_ERRORS},
)
def delete_collection(name: NulFreeStr, services: ServicesDep, key: Deleter) -> dict[str, Any]:
    """Delete a collection and every document in it, everywhere (store, vectors, full text,
    uploaded originals)."""
    if key is not None and not key.allows(name):
        raise NotFoundError(f"no collection named {name!r}")
    # Looked up before the writer lock too: a name that is not there is a 404 even while
    # another process writes (not a 409 telling the caller to wait and try again).
    services.store.collection_id(name)
    with services.writer:
        collection_id = services.store.collection_id(name)
        sources = list(services.store.known_documents(name))
        documents, removed = services.kb.delete_collection(name)
        services.kb.flush()
    remove_collection_files(services, collection_id, sources)
    return {"deleted": name, "documents": documents, "chunks": len(removed)}
