"""The knowledge base: SQL store (source of truth), embedder, FAISS vectors, lexical index."""

from index.embedder import (
    DEFAULT_MODEL,
    DocumentEncoder,
    Embedder,
    SentenceTransformerEmbedder,
    Tokenizer,
)
from index.errors import (
    CitedError,
    ConfigError,
    ConflictError,
    ModelMismatchError,
    NotFoundError,
    ParseError,
    StoreError,
    UpstreamError,
    UpstreamTimeout,
    WriterLockedError,
)
from index.knowledge import KnowledgeBase, Repair
from index.lock import DatabaseWriterLock, SharedWriterLock, WriterLock, writer_lock
from index.store import Store
from index.types import (
    Chunk,
    CollectionInfo,
    Document,
    IndexState,
    KnownDocument,
    NewChunk,
    NewDocument,
    Scope,
    ScoredChunk,
)
from index.writing import WriteResult

__all__ = [
    "DEFAULT_MODEL",
    "Chunk",
    "CitedError",
    "CollectionInfo",
    "ConfigError",
    "ConflictError",
    "DatabaseWriterLock",
    "Document",
    "DocumentEncoder",
    "Embedder",
    "IndexState",
    "KnowledgeBase",
    "KnownDocument",
    "ModelMismatchError",
    "NewChunk",
    "NewDocument",
    "NotFoundError",
    "ParseError",
    "Repair",
    "Scope",
    "ScoredChunk",
    "SentenceTransformerEmbedder",
    "SharedWriterLock",
    "Store",
    "StoreError",
    "Tokenizer",
    "UpstreamError",
    "UpstreamTimeout",
    "WriteResult",
    "WriterLock",
    "WriterLockedError",
    "writer_lock",
]
