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
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from index.errors import ModelMismatchError
from index.store import Store, WriteResult, mismatch_message
from index.types import NewDocument, ScoredChunk
from index.vectors import FlatVectorIndex, VectorHeader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repair:
    added: int
    removed: int
    rebuilt: bool


class KnowledgeBase:
    def __init__(self, store: Store, vector_path: Path, model_name: str) -> None:
        self.store = store
        self.vector_path = vector_path
        self.model_name = model_name
        self._vectors: FlatVectorIndex | None = None
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

    def vectors(self) -> FlatVectorIndex | None:
        """The vector index, loaded and repaired against SQL on first use; None while empty."""
        if self._vectors is None:
            self.check_model()
            self._vectors, self.last_repair = self._load_and_repair()
        return self._vectors

    def _load_and_repair(self) -> tuple[FlatVectorIndex | None, Repair]:
        state = self.store.state()
        if state.model is None or state.dimension is None:
            return None, Repair(0, 0, False)
        loaded = FlatVectorIndex.load(self.vector_path)
        if (
            loaded is None
            or loaded[1].model != state.model
            or loaded[1].dimension != state.dimension
        ):
            vectors = self._rebuild(state.dimension)
            self._save(vectors)
            return vectors, Repair(len(vectors), 0, True)
        vectors, header = loaded
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

    def _rebuild(self, dimension: int) -> FlatVectorIndex:
        started = time.perf_counter()
        vectors = FlatVectorIndex(dimension)
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

    def _save(self, vectors: FlatVectorIndex) -> None:
        state = self.store.state()
        assert state.model is not None
        vectors.save(
            self.vector_path,
            VectorHeader(state.model, vectors.dimension, state.generation, len(vectors)),
        )
        self._dirty = False

    def write(
        self, batch: Sequence[tuple[NewDocument, np.ndarray]], dimension: int
    ) -> list[WriteResult]:
        """Store documents with their chunk embeddings; they are searchable on return."""
        vectors = self.vectors()
        results = self.store.write(batch, self.model_name, dimension)
        if vectors is None:
            vectors = self._vectors = FlatVectorIndex(dimension)
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

    def search(self, query: np.ndarray, k: int, collection: str | None = None) -> list[ScoredChunk]:
        """The k chunks most similar to `query` (a normalized vector), best first."""
        vectors = self.vectors()
        if vectors is None or len(vectors) == 0 or k <= 0:
            return []
        if collection is None:
            scores, ids = vectors.search(query, k)
        else:
            allowed = self.store.collection_chunk_ids(collection)
            if len(allowed) == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))  # type: ignore[call-arg]
            scores, ids = vectors.search(query, k, params)
        found = self.store.chunks_with_documents([int(i) for i in ids[0] if i >= 0])
        return [
            ScoredChunk(found[int(i)][0], found[int(i)][1], float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if int(i) in found
        ]
