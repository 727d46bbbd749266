"""`Store.write` in named steps, each a few set-based statements over the whole batch, all
inside the caller's one transaction: check the batch, find the documents it replaces, drop
their chunks, insert or update the documents, insert the new chunks, and say what was done.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from index.errors import RejectedError
from index.schema import ChunkRow, DocumentRow, document_from, embedding_blobs, unstorable
from index.types import Document, NewDocument

Batch = Sequence[tuple[NewDocument, np.ndarray]]
Existing = dict[tuple[str, str], tuple[str, datetime]]  # (collection, source) -> (id, created)
MAX_TEXT = 1000  # characters kept of a title or section
IN_CLAUSE = 500  # ids per IN (...) list


@dataclass(frozen=True)
class WriteResult:
    document: Document
    status: Literal["added", "updated"]
    removed_chunk_ids: tuple[int, ...]
    chunk_ids: tuple[int, ...]


def check_batch(batch: Batch, dimension: int) -> None:
    """ValueError for a caller's mistake (a source twice, embeddings of the wrong shape);
    RejectedError for a document no database can store."""
    keys = [(new.collection, new.source) for new, _ in batch]
    if len(set(keys)) != len(keys):
        raise ValueError("a write batch names the same (collection, source) twice")
    for new, embeddings in batch:
        if embeddings.shape != (len(new.chunks), dimension):
            raise ValueError(
                f"{new.source}: {embeddings.shape} embeddings for {len(new.chunks)} chunks"
            )
        problem = unstorable(new)
        if problem is not None:
            raise RejectedError(f"the document {new.source!r} cannot be stored: {problem}")


def existing_documents(
    session: Session, batch: Batch, collection_ids: dict[str, int | None]
) -> Existing:
    """The stored documents the batch replaces."""
    existing: Existing = {}
    for name, collection_id in collection_ids.items():
        sources = [new.source for new, _ in batch if new.collection == name]
        for i in range(0, len(sources), IN_CLAUSE):
            rows = session.execute(
                select(DocumentRow.source, DocumentRow.id, DocumentRow.created_at).where(
                    DocumentRow.collection_id == collection_id,
                    DocumentRow.source.in_(sources[i : i + IN_CLAUSE]),
                )
            )
            existing.update({(name, source): (doc_id, at) for source, doc_id, at in rows})
    return existing


def drop_chunks(session: Session, document_ids: list[str]) -> dict[str, list[int]]:
    """Delete the chunks of these documents; document id -> the chunk ids removed."""
    removed: dict[str, list[int]] = {doc_id: [] for doc_id in document_ids}
    if document_ids:
        owned = select(ChunkRow.id, ChunkRow.document_id).where(
            ChunkRow.document_id.in_(document_ids)
        )
        for chunk_id, doc_id in session.execute(owned):
            removed[doc_id].append(chunk_id)
        session.execute(delete(ChunkRow).where(ChunkRow.document_id.in_(document_ids)))
    return removed


def upsert_documents(
    session: Session,
    batch: Batch,
    existing: Existing,
    collection_ids: dict[str, int | None],
    now: datetime,
) -> list[Document]:
    """Insert the new documents and update the replaced ones (keeping id and creation)."""
    documents: list[Document] = []
    inserted: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for new, _ in batch:
        found = existing.get((new.collection, new.source))
        doc_id, created = found if found else (uuid.uuid4().hex, now)
        values = {
            "id": doc_id,
            "source": new.source,
            "collection_id": collection_ids[new.collection],
            "title": new.title[:MAX_TEXT],
            "content_hash": new.content_hash,
            "file_type": new.file_type,
            "size_bytes": new.size_bytes,
            "n_chunks": len(new.chunks),
            "n_chars": len(new.text),
            "text": new.text,
            "meta": dict(new.metadata),
            "created_at": created,
            "updated_at": now,
        }
        if found:
            updated.append({k: v for k, v in values.items() if k not in ("source", "created_at")})
        else:
            inserted.append(values)
        documents.append(document_from(values, new.collection, len(new.text)))
    if inserted:
        session.execute(insert(DocumentRow), inserted)
    if updated:
        session.execute(update(DocumentRow), updated)
    return documents


def insert_chunks(session: Session, documents: list[Document], batch: Batch) -> list[int]:
    """Insert every document's chunks with their embeddings; the new chunk ids, in order."""
    rows: list[dict[str, Any]] = []
    for document, (new, embeddings) in zip(documents, batch, strict=True):
        blobs = embedding_blobs(embeddings)
        rows.extend(
            {
                "document_id": document.id,
                "ordinal": i,
                "start": chunk.start,
                "end": chunk.end,
                "page": chunk.page,
                "section": chunk.section[:MAX_TEXT] if chunk.section else None,
                "n_tokens": chunk.n_tokens,
                "text": chunk.text,
                "embedding": blobs[i],
            }
            for i, chunk in enumerate(new.chunks)
        )
    returning = insert(ChunkRow).returning(ChunkRow.id, sort_by_parameter_order=True)
    return list(session.scalars(returning, rows))


def results(
    documents: list[Document],
    existing: Existing,
    removed: dict[str, list[int]],
    chunk_ids: list[int],
) -> list[WriteResult]:
    """What each document's write did: added or updated, chunks removed and added."""
    done = []
    offset = 0
    for document in documents:
        added = tuple(chunk_ids[offset : offset + document.n_chunks])
        offset += document.n_chunks
        old = existing.get((document.collection, document.source))
        gone = tuple(removed.get(old[0], ())) if old else ()
        done.append(WriteResult(document, "updated" if old else "added", gone, added))
    return done
