"""Documents: upload (an ingestion job, followed at api/routes/jobs.py), list, read
(metadata, text, original file), delete."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse

from api.auth import ApiKey, check_collection
from api.deps import Deleter, Ingester, Reader, ServicesDep
from api.jobs import Job, JobFile
from api.schemas import (
    AUTH_ERRORS,
    CollectionName,
    DeletedOut,
    DocumentList,
    DocumentOut,
    ErrorResponse,
    JobOut,
    NulFreeStr,
)
from api.uploads import collection_folder, safe_filename
from index import ConflictError, Document, NotFoundError
from index.errors import TooManyFiles
from ingest.sniff import content_problem

router = APIRouter(prefix="/v1", tags=["documents"])

COPY_BLOCK = 1 << 20
WAIT_LIMIT_S = 600.0
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "epub": "application/epub+zip",
    "markdown": "text/markdown; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "email": "message/rfc822",
}
MAX_OFFSET = 1_000_000_000  # a bound, so that no integer overflows SQL
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}, **AUTH_ERRORS}


def document_out(document: Document) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        collection=document.collection,
        source=document.source,
        title=document.title,
        file_type=document.file_type,
        size_bytes=document.size_bytes,
        chunks=document.n_chunks,
        characters=document.n_chars,
        created_at=document.created_at.isoformat(),
        updated_at=document.updated_at.isoformat(),
        metadata=document.metadata,
    )


def _readable(services: ServicesDep, document_id: str, key: ApiKey | None) -> Document:
    """The document, when the key may see its collection (404 otherwise: no existence leak)."""
    document = services.store.get_document(document_id)
    if key is not None and not key.allows(document.collection):
        raise NotFoundError(f"no document with id {document_id!r}")
    return document


def _stage(upload: UploadFile, job: Job, folder: Path, into: Path, max_bytes: int) -> JobFile:
    """Copy one upload to the job's staging folder (in blocks, never whole in memory) and
    decide whether it may be ingested."""
    try:
        name = safe_filename(upload.filename or "")
    except ValueError as exc:
        return JobFile(upload.filename or "", upload.size or 0, "failed", str(exc))
    if any(f.name == name for f in job.files):
        return JobFile(name, upload.size or 0, "failed", "the same file name twice in one upload")
    staged = into / name
    size = 0
    with staged.open("wb") as out:
        while block := upload.file.read(COPY_BLOCK):
            size += len(block)
            if size > max_bytes:
                break
            out.write(block)
    if size > max_bytes:
        staged.unlink()
        return JobFile(
            name,
            size,
            "failed",
            f"file is over the limit of {max_bytes / 2**20:g} MB (CITED_MAX_FILE_MB); "
            "split it or raise the limit",
        )
    problem = content_problem(staged, name)
    if problem is not None:
        staged.unlink()
        return JobFile(name, size, "failed", problem)
    return JobFile(name, size, staged=staged, final=folder / name)


@router.post(
    "/documents",
    status_code=202,
    response_model=JobOut,
    responses={
        200: {"model": JobOut, "description": "With `wait`: the finished job."},
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        503: {"model": ErrorResponse},
        **AUTH_ERRORS,
    },
)
def upload(
    services: ServicesDep,
    key: Ingester,
    files: Annotated[list[UploadFile], File(description="One or more files to ingest.")],
    collection: Annotated[CollectionName | None, Form()] = None,
    wait: Annotated[
        bool, Query(description="Answer when the job is done (up to 10 minutes), not at once.")
    ] = False,
) -> JSONResponse:
    """Upload files into a collection (the default one unless named) and start an ingestion
    job; its id and progress come back at once (`GET /v1/jobs/{id}` follows it). Each file
    ends `added`, `updated`, `unchanged` or `failed` with the reason. File types are told by
    their content, not by the declared content type."""
    settings = services.settings
    name = collection or settings.collection
    check_collection(key, name)
    if len(files) > settings.upload_max_files:
        raise TooManyFiles(
            f"{len(files)} files in one upload; at most {settings.upload_max_files} "
            "(CITED_UPLOAD_MAX_FILES)"
        )
    job = services.jobs.new_job(name)
    folder = services.jobs.files_dir / collection_folder(services.store.ensure_collection(name))
    into = services.jobs.stage_dir(job)
    for item in files:
        job.files.append(_stage(item, job, folder, into, settings.max_file_bytes))
    services.jobs.submit(job)
    finished = wait and services.jobs.wait(job, WAIT_LIMIT_S)
    return JSONResponse(
        services.jobs.snapshot(job),
        status_code=200 if finished else 202,
        headers={"Location": f"/v1/jobs/{job.id}"},
    )


@router.get("/documents", response_model=DocumentList, responses=AUTH_ERRORS)
def list_documents(
    services: ServicesDep,
    key: Reader,
    collection: Annotated[CollectionName | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> DocumentList:
    """Documents by collection and source, a page at a time (`total` counts them all)."""
    if collection is not None:
        check_collection(key, collection)
    allowed = key.collections if key is not None else None
    store = services.store
    return DocumentList(
        documents=[
            document_out(d)
            for d in store.list_documents(collection, limit, offset, collections=allowed)
        ],
        total=store.count_documents(collection, collections=allowed),
        limit=limit,
        offset=offset,
    )


@router.get("/documents/{document_id}", response_model=DocumentOut, responses=ERRORS)
def get_document(document_id: NulFreeStr, services: ServicesDep, key: Reader) -> DocumentOut:
    """A document's metadata."""
    return document_out(_readable(services, document_id, key))


@router.get(
    "/documents/{document_id}/text",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, **ERRORS},
)
def document_text(document_id: NulFreeStr, services: ServicesDep, key: Reader) -> PlainTextResponse:
    """The document's extracted text: every citation's `start`/`end` index its characters
    (code points), so `text[start:end] == quote`."""
    _readable(services, document_id, key)
    return PlainTextResponse(services.store.document_text(document_id))


@router.get(
    "/documents/{document_id}/file",
    response_class=FileResponse,
    responses={
        200: {
            "content": {
                media.split(";")[0]: {}
                for media in sorted({*MEDIA_TYPES.values(), "application/octet-stream"})
            }
        },
        409: {"model": ErrorResponse},
        **ERRORS,
    },
)
def document_file(document_id: NulFreeStr, services: ServicesDep, key: Reader) -> FileResponse:
    """The original file the document was made from (uploaded, or where `cited ingest` found
    it). HTML and e-mail are sent as attachments, and every original is sandboxed by its
    Content-Security-Policy, so a document cannot run script in this site."""
    document = _readable(services, document_id, key)
    path = Path(document.source)
    if not path.is_file():
        raise NotFoundError(f"the original of {document.title!r} is no longer at {document.source}")
    if path.stat().st_size != document.size_bytes:
        raise ConflictError(
            f"the file at {document.source} changed since it was ingested; ingest it again"
        )
    inline = document.file_type not in ("html", "email")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES.get(document.file_type, "application/octet-stream"),
        filename=path.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"},
    )


@router.delete(
    "/documents/{document_id}",
    response_model=DeletedOut,
    responses={409: {"model": ErrorResponse}, **ERRORS},
)
def delete_document(document_id: NulFreeStr, services: ServicesDep, key: Deleter) -> DeletedOut:
    """Delete a document from the store, the vector index and the full-text index: it can
    never be retrieved again. An uploaded original is removed too."""
    document = _readable(services, document_id, key)
    with services.writer:
        removed = services.kb.delete([document_id])
        services.kb.flush()
    _remove_original(services, Path(document.source))
    return DeletedOut(deleted=document_id, documents=1, chunks=len(removed))


def _remove_original(services: ServicesDep, path: Path) -> None:
    """Remove a file only when it is an upload this server keeps (never an operator's file)."""
    files = services.jobs.files_dir.resolve()
    if path.resolve().is_relative_to(files):
        path.unlink(missing_ok=True)


def remove_collection_files(services: ServicesDep, collection_id: int, sources: list[str]) -> None:
    """Remove a deleted collection's uploaded originals: its folder, and each of its
    documents' uploads kept elsewhere (by an older version's folder naming)."""
    for source in sources:
        _remove_original(services, Path(source))
    shutil.rmtree(services.jobs.files_dir / collection_folder(collection_id), ignore_errors=True)
