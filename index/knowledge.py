"""The knowledge base: the SQL store plus the vector index derived from it, kept in step.

Writes go to SQL first (one transaction), then to the in-memory FAISS index, which `flush()`
saves atomically. After a crash the saved index may lag SQL; `vectors()` repairs it on first
use by comparing id sets, adding missing vectors from the stored embeddings (no
re-embedding) and dropping ids SQL no longer has. So a document is searchable exactly when
its SQL transaction committed, and deleted chunks can never be returned: search results are
also joined back to SQL rows, and ids without a row are skipped.

Not done here: choosing files, parsing, embedding (ingest/ and index.embedder do that),
and locking out a second writer (index.lock; the caller holds it while writing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from index.errors import ConfigError, ModelMismatchError, NotFoundError
from index.store import Store, WriteResult, mismatch_message
from index.types import Chunk, Document, NewDocument, Scope, ScoredChunk
from index.vectors import HnswParams, Kind, VectorHeader, VectorIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repair:
    added: int
    removed: int
    rebuilt: bool


HNSW_COMPACT_SHARE = 0.1  # rebuild an HNSW graph once this share of its vectors is hidden
SCOPE_CACHE_SIZE = 64


class KnowledgeBase:
    """`vector_kind` "auto" keeps an exact flat index up to `hnsw_threshold` vectors and an
    HNSW graph above (chosen when the index is loaded or rebuilt)."""

    def __init__(
        self,
        store: Store,
        vector_path: Path,
        model_name: str,
        vector_kind: Literal["auto", "flat", "hnsw"] = "auto",
        hnsw_threshold: int = 200_000,
        hnsw: HnswParams | None = None,
    ) -> None:
        if vector_kind not in ("auto", "flat", "hnsw"):
            raise ConfigError(f"CITED_VECTOR_INDEX must be auto, flat or hnsw, got {vector_kind!r}")
        if hnsw_threshold < 1:
            raise ConfigError(f"CITED_HNSW_THRESHOLD must be positive, got {hnsw_threshold}")
        self.store = store
        self.vector_path = vector_path
        self.model_name = model_name
        self.vector_kind = vector_kind
        self.hnsw_threshold = hnsw_threshold
        self.hnsw = hnsw or HnswParams()
        # scope -> (store generation, ascending chunk ids inside it)
        self._scopes: dict[Scope, tuple[int, np.ndarray]] = {}
        self._vectors: VectorIndex | None = None
        self._dirty = False
        self.last_repair: Repair | None = None

    def check_model(self, dimension: int | None = None) -> None:
        """Refuse to mix embedding models: the store's recorded model must be ours."""
        state = self.store.state()
        if state.model is None:
            return
        if state.model != self.model_name or (
            dimension is not None and dimension != state.dimension
        ):
            raise ModelMismatchError(
                mismatch_message(
                    state.model, state.dimension, self.model_name, dimension or state.dimension or 0
                )
            )

    def vectors(self) -> VectorIndex | None:
        """The vector index, loaded and repaired against SQL on first use; None while empty."""
        if self._vectors is None:
            self.check_model()
            self._vectors, self.last_repair = self._load_and_repair()
        return self._vectors

    def _load_and_repair(self) -> tuple[VectorIndex | None, Repair]:
        state = self.store.state()
        if state.model is None or state.dimension is None:
            return None, Repair(0, 0, False)
        loaded = VectorIndex.load(self.vector_path)
        if (
            loaded is None
            or loaded[1].model != state.model
            or loaded[1].dimension != state.dimension
            or loaded[1].kind != self._kind_for(self.store.count_chunks())
        ):
            vectors = self._rebuild(state.dimension)
            self._save(vectors)
            return vectors, Repair(len(vectors), 0, True)
        vectors, header = loaded
        vectors.hnsw = replace(vectors.hnsw, ef_search=self.hnsw.ef_search)  # a search setting
        sql_ids = self.store.chunk_ids()
        faiss_ids = vectors.ids()
        extra = np.setdiff1d(faiss_ids, sql_ids, assume_unique=True)
        missing = np.setdiff1d(sql_ids, faiss_ids, assume_unique=True)
        vectors.remove(extra)
        for ids, matrix in self.store.iter_embeddings(state.dimension, ids=missing.tolist()):
            vectors.add(ids, matrix)
        repair = Repair(len(missing), len(extra), False)
        if len(missing) or len(extra) or header.generation != state.generation:
            if len(missing) or len(extra):
                log.warning(
                    "vector index repaired from the store added=%d removed=%d",
                    len(missing),
                    len(extra),
                )
            self._save(vectors)
        return vectors, repair

    def _kind_for(self, count: int) -> Kind:
        if self.vector_kind == "auto":
            return "hnsw" if count > self.hnsw_threshold else "flat"
        return self.vector_kind

    def _rebuild(self, dimension: int) -> VectorIndex:
        started = time.perf_counter()
        vectors = VectorIndex(dimension, self._kind_for(self.store.count_chunks()), self.hnsw)
        for ids, matrix in self.store.iter_embeddings(dimension):
            vectors.add(ids, matrix)
        log.info(
            "vector index rebuilt from the store vectors=%d seconds=%.2f",
            len(vectors),
            time.perf_counter() - started,
        )
        return vectors

    def rebuild(self) -> int:
        """Rebuild the vector index from the stored embeddings (`cited reindex`)."""
        self.check_model()
        state = self.store.state()
        if state.dimension is None:
            self._vectors = None
            return 0
        self._vectors = self._rebuild(state.dimension)
        self._save(self._vectors)
        return len(self._vectors)

    def _save(self, vectors: VectorIndex) -> None:
        state = self.store.state()
        assert state.model is not None
        if vectors.hidden > HNSW_COMPACT_SHARE * max(len(vectors), 1):
            vectors = self._vectors = self._rebuild(vectors.dimension)
        vectors.save(
            self.vector_path,
            VectorHeader(
                state.model,
                vectors.dimension,
                state.generation,
                len(vectors),
                vectors.kind,
            ),
        )
        self._dirty = False

    def write(
        self, batch: Sequence[tuple[NewDocument, np.ndarray]], dimension: int
    ) -> list[WriteResult]:
        """Store documents with their chunk embeddings; they are searchable on return."""
        vectors = self.vectors()
        results = self.store.write(batch, self.model_name, dimension)
        if vectors is None:
            vectors = self._vectors = VectorIndex(dimension, self._kind_for(0), self.hnsw)
        for (_, embeddings), result in zip(batch, results, strict=True):
            vectors.remove(np.array(result.removed_chunk_ids, dtype=np.int64))
            vectors.add(np.array(result.chunk_ids, dtype=np.int64), embeddings)
        self._dirty = True
        return results

    def delete(self, document_ids: Sequence[str]) -> list[int]:
        """Delete documents everywhere; returns the removed chunk ids."""
        vectors = self.vectors()
        removed = self.store.delete_documents(document_ids)
        if vectors is not None:
            vectors.remove(np.array(removed, dtype=np.int64))
            self._dirty = True
        return removed

    def flush(self) -> None:
        """Save the vector index if it changed since it was last saved."""
        if self._dirty and self._vectors is not None:
            self._save(self._vectors)

    def scope_ids(self, scope: Scope) -> np.ndarray:
        """Ascending chunk ids inside `scope`, cached until the store changes."""
        generation = self.store.state().generation
        cached = self._scopes.get(scope)
        if cached is not None and cached[0] == generation:
            return cached[1]
        ids = self.store.scope_chunk_ids(scope)
        if len(self._scopes) >= SCOPE_CACHE_SIZE:
            self._scopes.pop(next(iter(self._scopes)))
        self._scopes[scope] = (generation, ids)
        return ids

    def search(self, query: np.ndarray, k: int, scope: Scope | None = None) -> list[ScoredChunk]:
        """The k chunks most similar to `query` (a normalized vector) inside `scope`, best
        first."""
        return [
            ScoredChunk(chunk, document, score)
            for chunk, document, score in self._join(self.search_ids(query, k, scope))
        ]

    def search_ids(
        self, query: np.ndarray, k: int, scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the k nearest chunks inside `scope`, best first.
        Ids may include chunks deleted by another process since the index was loaded;
        join them to the store (which skips those)."""
        vectors = self.vectors()
        if vectors is None or len(vectors) == 0 or k <= 0:
            return []
        allowed = None
        if scope is not None and not scope.everything:
            allowed = self.scope_ids(scope)
            if len(allowed) == 0:
                return []
        scores, ids = vectors.search(query, k, allowed)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]

    def embeddings(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of `chunk_ids` (from the index, no re-embedding), one row each."""
        vectors = self.vectors()
        if vectors is None:
            raise ValueError("the knowledge base is empty: no embeddings to read")
        rows: dict[int, np.ndarray] = {}
        missing = []
        for chunk_id in chunk_ids:
            try:
                rows[chunk_id] = vectors.reconstruct(chunk_id)
            except RuntimeError:  # written by another process after this index was loaded
                missing.append(chunk_id)
        for ids, matrix in self.store.iter_embeddings(vectors.dimension, ids=missing):
            rows.update(zip(ids.tolist(), matrix, strict=True))
        unknown = [i for i in chunk_ids if i not in rows]
        if unknown:
            raise NotFoundError(f"no chunk with id {unknown[0]} in the store")
        if not rows:
            return np.zeros((0, vectors.dimension), dtype=np.float32)
        return np.stack([rows[i] for i in chunk_ids]).astype(np.float32)

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, tuple[Chunk, Document]]:
        """chunk id -> (chunk, document) for those that exist in the store."""
        return self.store.chunks_with_documents(chunk_ids)

    def _join(self, hits: list[tuple[int, float]]) -> list[tuple[Chunk, Document, float]]:
        found = self.store.chunks_with_documents([i for i, _ in hits])
        return [(found[i][0], found[i][1], s) for i, s in hits if i in found]
