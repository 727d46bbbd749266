"""SQL tables of the knowledge base (SQLAlchemy 2.0 typed models).

    collections 1-* documents 1-* chunks          index_state: one row (id = 1)
    chunk_removals (generation, chunk id)         removal_log: one row (id = 1)
    logged_writes (generation)

Chunk ids are never reused (AUTOINCREMENT on SQLite, a sequence on PostgreSQL): the FAISS
index is keyed by chunk id and repaired by comparing id sets, which is only sound if a
deleted id can never come back with another vector. The lexical index is not declared here;
`index.lexical` adds it with dialect-specific DDL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from index.types import Document, NewDocument

# 2: chunk_removals and removal_log, which every writer must keep (an older cited would
# not: it refuses a store of a newer schema version)
SCHEMA_VERSION = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class CollectionRow(Base):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "source", name="uq_documents_source"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(4096))
    title: Mapped[str] = mapped_column(String(1000))
    content_hash: Mapped[str] = mapped_column(String(64))
    file_type: Mapped[str] = mapped_column(String(20))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    n_chunks: Mapped[int] = mapped_column(Integer)
    # len(text), kept: length(text) reads the whole text (detoasted and decompressed on
    # PostgreSQL) for every chunk a search joins, 66 ms per search over 1 MB documents.
    # NULL in rows an older cited wrote: read as length(text) (DOCUMENT_CHARS) until the
    # next open fills them (Store._setup).
    n_chars: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Deferred: loaded only when asked for by name (documents are listed and cited far more
    # often than their whole text is read).
    text: Mapped[str] = mapped_column(Text, deferred=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # selectin: a page of documents loads its collections in one more query, not one each
    collection: Mapped[CollectionRow] = relationship(lazy="selectin")


class ChunkRow(Base):
    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_document", "document_id", "ordinal"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    section: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    n_tokens: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # float32, little-endian, `dimension` values (see index_state); deferred like the text
    embedding: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class IndexStateRow(Base):
    __tablename__ = "index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer, default=SCHEMA_VERSION)
    model: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dimension: Mapped[int | None] = mapped_column(Integer, nullable=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChunkRemovalRow(Base):
    """A chunk removed by the write of `generation` (deleted, or replaced by a re-ingest):
    readers follow the store by reading these and the chunks past the last id they hold,
    instead of every chunk id (KnowledgeBase._catch_up)."""

    __tablename__ = "chunk_removals"

    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chunk_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class LoggedWriteRow(Base):
    """A write of `generation` that logged its removals. Writers of a cited from before the
    log (still running during an upgrade: only a new open refuses the store) bump the
    generation without either, so a generation missing here after `kept_after` tells
    readers the log is incomplete there, and they compare every id instead."""

    __tablename__ = "logged_writes"

    generation: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class RemovalLogRow(Base):
    """How far back chunk_removals and logged_writes are complete: every removal of a
    logged write after `kept_after` is there (older ones are pruned; before this table
    existed, none)."""

    __tablename__ = "removal_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kept_after: Mapped[int] = mapped_column(BigInteger)


def unstorable(new: NewDocument) -> str | None:
    """Why a document cannot be stored as is in every supported database, or None.

    PostgreSQL refuses NUL characters in text and JSON, and no database takes strings that
    are not valid Unicode (lone surrogates, as undecodable file names give); SQLite would
    take the first, so the rule is checked here, the same on both.
    """
    fields: list[tuple[str, Any]] = [
        ("collection name", new.collection),
        ("source", new.source),
        ("title", new.title),
        ("text", new.text),
        ("metadata", new.metadata),
    ]
    for name, value in fields:
        for text in _strings(value):
            if "\x00" in text:
                return f"its {name} contains NUL characters, which the database cannot store"
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return f"its {name} is not valid Unicode (lone surrogates), which the database cannot store"
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


# The document columns a Document is built from, in the order queries select them.
DOCUMENT_COLUMNS = (
    "id",
    "source",
    "title",
    "content_hash",
    "file_type",
    "size_bytes",
    "n_chunks",
    "created_at",
    "updated_at",
    "meta",
)


# A document's length in characters, for the queries that build Documents.
DOCUMENT_CHARS: ColumnElement[Any] = func.coalesce(
    DocumentRow.n_chars, func.length(DocumentRow.text)
)


def document_from(values: Mapping[str, Any], collection: str, n_chars: int) -> Document:
    """The one way a Document is built: from its row's values (DOCUMENT_COLUMNS)."""
    return Document(
        id=values["id"],
        collection=collection,
        source=values["source"],
        title=values["title"],
        content_hash=values["content_hash"],
        file_type=values["file_type"],
        size_bytes=values["size_bytes"],
        n_chunks=values["n_chunks"],
        n_chars=n_chars,
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        metadata=dict(values["meta"] or {}),
    )


def document_of(row: DocumentRow, n_chars: int) -> Document:
    """The Document of a loaded row (its collection loaded with it)."""
    values = {name: getattr(row, name) for name in DOCUMENT_COLUMNS}
    return document_from(values, row.collection.name, n_chars)


# Embeddings are stored as little-endian float32 bytes, one row per chunk.
EMBEDDING_DTYPE = "<f4"


def embedding_blobs(matrix: np.ndarray) -> list[bytes]:
    """Each row of `matrix` as the bytes the `embedding` column holds."""
    rows = np.ascontiguousarray(matrix, dtype=EMBEDDING_DTYPE)
    return [row.tobytes() for row in rows]


def embedding_matrix(blobs: Sequence[bytes], dimension: int) -> np.ndarray:
    """The float32 matrix of stored embeddings, one row a blob."""
    matrix = np.frombuffer(b"".join(blobs), dtype=EMBEDDING_DTYPE)
    return matrix.reshape(len(blobs), dimension).astype(np.float32, copy=False)
