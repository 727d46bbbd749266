"""The knowledge base's data: what goes in (NewDocument, NewChunk) and what comes out
(Document, Chunk, ScoredChunk, IndexState). Frozen and validated on construction.

Character offsets always refer to the document's stored extracted text:
`document_text[chunk.start:chunk.end] == chunk.text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NewChunk:
    """A chunk produced by ingestion, before it has an id."""

    text: str
    start: int
    end: int
    n_tokens: int
    page: int | None = None
    section: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(
                f"chunk offsets must satisfy 0 <= start <= end, got {self.start}, {self.end}"
            )
        if len(self.text) != self.end - self.start:
            raise ValueError(
                f"chunk text has {len(self.text)} characters but offsets span {self.end - self.start}"
            )
        if not self.text.strip():
            raise ValueError("chunk text is blank")


@dataclass(frozen=True)
class NewDocument:
    """A parsed and chunked file, ready to be written with its chunks' embeddings."""

    collection: str
    source: str
    title: str
    content_hash: str
    file_type: str
    size_bytes: int
    text: str
    chunks: tuple[NewChunk, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.collection:
            raise ValueError("collection name is empty")
        if not self.chunks:
            raise ValueError(f"{self.source}: a document needs at least one chunk")
        for chunk in self.chunks:
            if self.text[chunk.start : chunk.end] != chunk.text:
                raise ValueError(
                    f"{self.source}: chunk [{chunk.start}:{chunk.end}] does not match the document text"
                )


@dataclass(frozen=True)
class KnownDocument:
    """What ingestion needs to know of a stored document: its id and content hash."""

    id: str
    content_hash: str


@dataclass(frozen=True)
class Document:
    id: str
    collection: str
    source: str
    title: str
    content_hash: str
    file_type: str
    size_bytes: int
    n_chunks: int
    n_chars: int
    created_at: datetime
    updated_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    id: int
    document_id: str
    ordinal: int
    start: int
    end: int
    text: str
    n_tokens: int
    page: int | None
    section: str | None


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    document: Document
    score: float


@dataclass(frozen=True)
class Scope:
    """Which chunks a search may return. Every field narrows it; the default is everything.

    Applied inside both the vector and the lexical search (never by dropping results
    afterwards), so a search over a narrow scope still returns its k best chunks.
    """

    collection: str | None = None
    document_ids: tuple[str, ...] = ()
    source_prefix: str | None = None
    # Any of these collections (an API key limited to them); None = no such limit.
    collections: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.collection is not None and not self.collection:
            raise ValueError("scope collection is empty; give a name or None for all")
        if isinstance(self.document_ids, str):
            raise ValueError("scope document_ids must be a sequence of ids, not one string")
        object.__setattr__(self, "document_ids", tuple(self.document_ids))
        if self.collections is not None:
            object.__setattr__(self, "collections", frozenset(self.collections))

    @property
    def everything(self) -> bool:
        return (
            self.collection is None
            and not self.document_ids
            and not self.source_prefix
            and self.collections is None
        )

    def collection_names(self) -> frozenset[str] | None:
        """The collections the scope allows; None = every one."""
        if self.collection is None:
            return self.collections
        if self.collections is None or self.collection in self.collections:
            return frozenset({self.collection})
        return frozenset()


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    documents: int
    chunks: int
    created_at: datetime


@dataclass(frozen=True)
class IndexState:
    """What the vectors were made with, and a counter bumped by every committed change."""

    model: str | None
    dimension: int | None
    generation: int
