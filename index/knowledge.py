"""The knowledge base: the SQL store plus the vector index derived from it, kept in step.

Writes go to SQL first (one transaction), then to the in-memory FAISS index, which `flush()`
saves atomically. After a crash the saved index may lag SQL; `vectors()` repairs it on first
use by comparing id sets, adding missing vectors from the stored embeddings (no
re-embedding) and dropping ids SQL no longer has. So a document is searchable exactly when
its SQL transaction committed, and deleted chunks can never be returned: search results are
also joined back to SQL rows, and ids without a row are skipped.

Other processes: `refresh()` (once per query) compares the store's generation with the one
the in-memory index reflects and, when another process wrote, brings the index in step the
same way (only the changed ids are read); those reads go to the store's hot standby when it
has one (`store.reads`, index.replica), and then only forward. Threads: FAISS searches and
mutations exclude each other under a short lock; writers and refreshes are serialized under
another, so a reader never waits for a writer's SQL transaction (it searches the index as
it was).

Not done here: choosing files, parsing, embedding (ingest/ and index.embedder do that),
and locking out a second writer process (index.lock; the caller holds it while writing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.errors import ConfigError, ModelMismatchError, NotFoundError
from index.replica import Reads
from index.store import Store, mismatch_message
from index.types import Chunk, Document, KnownDocument, NewDocument, Scope, ScoredChunk
from index.vectors import (
    HnswParams,
    IvfParams,
    Kind,
    KindChoice,
    VectorHeader,
    VectorIndex,
    train_size,
)
from index.writing import WriteResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Repair:
    added: int
    removed: int
    rebuilt: bool


HNSW_COMPACT_SHARE = 0.1  # rebuild an HNSW graph once this share of its vectors is hidden
IVF_RETRAIN_GROWTH = 4.0  # retrain an IVF index once it holds this many times its training size
IVF_MIN_VECTORS = 39 * 64  # fewer cannot train its smallest list count: a flat index then
RESCORE = 4  # an IVF search fetches RESCORE * k candidates and ranks them by exact scores
SCOPE_CACHE_SIZE = 64


class KnowledgeBase:
    """`vector_kind` "auto" keeps an exact flat index up to `hnsw_threshold` vectors, an
    HNSW graph up to `ivf_threshold`, and a compressed IVF index above (chosen when the index
    is loaded or rebuilt). An IVF index's candidates are re-scored exactly from the stored
    float vectors (RESCORE * k of them: one indexed read), and it is retrained from a fresh
    sample once the corpus has grown IVF_RETRAIN_GROWTH times past what it was trained for."""

    def __init__(
        self,
        store: Store,
        vector_path: Path,
        model_name: str,
        vector_kind: KindChoice = "auto",
        hnsw_threshold: int = 200_000,
        hnsw: HnswParams | None = None,
        ivf_threshold: int = 500_000,
        ivf: IvfParams | None = None,
    ) -> None:
        if vector_kind not in ("auto", "flat", "hnsw", "ivf"):
            raise ConfigError(
                f"CITED_VECTOR_INDEX must be auto, flat, hnsw or ivf, got {vector_kind!r}"
            )
        if hnsw_threshold < 1 or ivf_threshold < 1:
            raise ConfigError(
                "CITED_HNSW_THRESHOLD and CITED_IVF_THRESHOLD must be positive, got "
                f"{hnsw_threshold} and {ivf_threshold}"
            )
        self.store = store
        self.reads = store.reads  # the store itself, or its hot standby (index.replica)
        self.vector_path = vector_path
        self.model_name = model_name
        self.vector_kind = vector_kind
        self.hnsw_threshold = hnsw_threshold
        self.hnsw = hnsw or HnswParams()
        self.ivf_threshold = ivf_threshold
        self.ivf = ivf or IvfParams()
        # scope -> (store generation, ascending chunk ids inside it)
        self._scopes: dict[Scope, tuple[int, np.ndarray]] = {}
        self._vectors: VectorIndex | None = None
        self._generation: int | None = None  # the store generation the index reflects
        # every chunk the store held at that generation with an id up to this one is in the
        # index (ids are allocated in commit order, never reused), so the chunks written
        # since are those with greater ids: what `_apply_changes` reads
        self._high_id: int | None = None
        self._dirty = False
        self._writing = threading.RLock()  # writers and refreshes, one at a time
        self._faiss = threading.Lock()  # FAISS calls: a search never meets a mutation
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
            with self._writing:
                if self._vectors is None:
                    self.check_model()
                    self._vectors, self.last_repair = self._load_and_repair()
        return self._vectors

    @property
    def generation(self) -> int | None:
        """The store generation the loaded index reflects (None before it is loaded)."""
        return self._generation

    def loaded_vectors(self) -> VectorIndex | None:
        """The vector index if loaded, without loading it (for metrics)."""
        return self._vectors

    def refresh(self) -> int:
        """Check the store's model, and bring the index in step when another process wrote
        since it was loaded (one indexed read when nothing changed). Skipped while a writer
        of this process holds the index: it brings it in step itself. Returns the store's
        generation it read, for the searches of the same question (`search_ids`)."""
        state = self.reads.state()
        if state.model is not None and state.model != self.model_name:
            self.check_model()  # raises with the fix
        if self._vectors is None or not self._behind(state.generation, self.reads):
            return state.generation
        if self._writing.acquire(blocking=False):
            try:
                self._catch_up(self.reads)
            finally:
                self._writing.release()
        return state.generation

    def out_of_step(self, attempts: int = 3) -> str | None:
        """What differs between the vector index and the chunks of the store it follows
        ("N vectors for M chunks"), or None when in step (for /readyz).

        Counted at one generation only: a write landing between the reads (another
        process's, or a job of this one between its commit and its FAISS add) would pass
        for a broken index, so the comparison is taken again; writes landing every time
        are writes in flight, not a broken index. With a read replica, an index ahead of
        the standby (this server's write, not replayed yet) is lag, not a difference."""
        for _ in range(attempts):
            generation = self.refresh()
            vectors = self.vectors()
            with self._faiss:
                indexed = len(vectors) if vectors is not None else 0
            if self.reads.replica and self._generation != generation:
                return None
            chunks = self.reads.count_chunks()
            if self._generation == generation == self.reads.state().generation:
                return None if indexed == chunks else f"{indexed} vectors for {chunks} chunks"
        return None

    def _behind(self, generation: int, source: Reads) -> bool:
        """Whether a store read at `generation` has changes the index lacks: any other
        generation, or from a standby only a newer one (it may not have replayed this
        process's latest write yet: index.replica)."""
        if self._generation is None:
            return True
        if source.replica:
            return generation > self._generation
        return generation != self._generation

    def _catch_up(self, source: Reads) -> None:
        """Under `_writing`: apply what other processes wrote since the index was loaded."""
        state = source.state()  # before the ids: never record more than the index holds
        if self._vectors is None or not self._behind(state.generation, source):
            return
        repair = self._apply_changes(self._vectors, source) or self._sync(self._vectors, source)
        self._generation = state.generation
        if repair.added or repair.removed:
            log.info(
                "vector index caught up with another writer added=%d removed=%d",
                repair.added,
                repair.removed,
            )

    def _load_and_repair(self) -> tuple[VectorIndex | None, Repair]:
        source = self.reads  # a standby, when there is one, bears the start's big read
        state = source.state()
        self._generation = state.generation
        if state.model is None or state.dimension is None:
            self._high_id = 0  # nothing written yet
            return None, Repair(0, 0, False)
        loaded = VectorIndex.load(self.vector_path)
        if (
            loaded is None
            or loaded[1].model != state.model
            or loaded[1].dimension != state.dimension
            or loaded[1].kind != self._kind_for(source.count_chunks())
        ):
            vectors = self._rebuild(state.dimension, source)
            self._save(vectors)
            return vectors, Repair(len(vectors), 0, True)
        vectors, _ = loaded
        # search settings, not the saved index's
        vectors.hnsw = replace(vectors.hnsw, ef_search=self.hnsw.ef_search)
        vectors.ivf = replace(vectors.ivf, nprobe=self.ivf.nprobe)
        repair = self._sync(vectors, source)
        # Saved again only when repaired: a file that holds the right ids under an older
        # generation (another process wrote and undid, or wrote what this one already
        # saved) needs no rewrite, which costs ~1 s for a million vectors. Every open
        # compares the ids anyway, so the saved generation decides nothing.
        if repair.added or repair.removed:
            log.warning(
                "vector index repaired from the store added=%d removed=%d",
                repair.added,
                repair.removed,
            )
            self._save(vectors)
        return vectors, repair

    def _apply_changes(self, vectors: VectorIndex, source: Reads) -> Repair | None:
        """Apply what was written since the index's generation: drop the chunks the store's
        removal log names, add those with ids above the highest it holds. Two indexed reads,
        however big the store; None when the log no longer reaches back (then `_sync`).
        Read after the generation, so the index may get ahead of it, never behind: the next
        catch-up applies again what it already has (removals are idempotent)."""
        if self._generation is None or self._high_id is None:
            return None
        removed = source.removed_since(self._generation)
        if removed is None:
            return None
        with self._faiss:
            dropped = vectors.remove(removed)
        added = 0
        for ids, matrix in source.iter_embeddings(vectors.dimension, after=self._high_id):
            with self._faiss:
                vectors.add(ids, matrix)
            self._high_id = int(ids[-1])
            added += len(ids)
        return Repair(added, dropped, False)

    def _sync(self, vectors: VectorIndex, source: Reads) -> Repair:
        """Make `vectors` hold exactly the store's chunk ids: drop the extra ones, add the
        missing ones from the stored embeddings (no re-embedding). Reads every chunk id."""
        sql_ids = source.chunk_ids()
        with self._faiss:
            faiss_ids = vectors.ids()
        extra = np.setdiff1d(faiss_ids, sql_ids, assume_unique=True)
        missing = np.setdiff1d(sql_ids, faiss_ids, assume_unique=True)
        with self._faiss:
            vectors.remove(extra)
        for ids, matrix in source.iter_embeddings(vectors.dimension, ids=missing.tolist()):
            with self._faiss:
                vectors.add(ids, matrix)
        self._high_id = int(sql_ids.max()) if len(sql_ids) else 0
        return Repair(len(missing), len(extra), False)

    def _kind_for(self, count: int) -> Kind:
        if self.vector_kind == "auto":
            if count > self.ivf_threshold:
                return "ivf"
            return "hnsw" if count > self.hnsw_threshold else "flat"
        if self.vector_kind == "ivf" and count < IVF_MIN_VECTORS:
            return "flat"  # exact, and small; IVF once there is enough to train it
        return self.vector_kind

    def _rebuild(self, dimension: int, source: Reads) -> VectorIndex:
        started = time.perf_counter()
        count = source.count_chunks()
        kind = self._kind_for(count)
        vectors = VectorIndex(dimension, kind, self.hnsw, self.ivf, expected=count)
        if kind == "ivf":
            vectors.train(self._training_sample(dimension, vectors.nlist, source), count)
        high = 0
        for ids, matrix in source.iter_embeddings(dimension):
            vectors.add(ids, matrix)
            high = int(ids[-1])
        self._high_id = high
        log.info(
            "vector index rebuilt from the store vectors=%d seconds=%.2f",
            len(vectors),
            time.perf_counter() - started,
        )
        return vectors

    def _training_sample(self, dimension: int, nlist: int, source: Reads) -> np.ndarray:
        """A seeded random sample of the stored embeddings, enough to train `nlist` lists
        (an IVF index is only chosen for at least IVF_MIN_VECTORS)."""
        ids = source.chunk_ids()
        wanted = train_size(len(ids), nlist)
        chosen = np.sort(np.random.default_rng(0).choice(ids, wanted, replace=False))
        blocks = [m for _, m in source.iter_embeddings(dimension, ids=chosen.tolist())]
        return np.concatenate(blocks)

    def rebuild(self) -> int:
        """Rebuild the vector index from the stored embeddings (`cited reindex`)."""
        self.check_model()
        with self._writing:
            state = self.store.state()
            self._generation = state.generation
            if state.dimension is None:
                self._vectors = None
                self._high_id = 0
                return 0
            self._vectors = self._rebuild(state.dimension, self.store)
            self._save(self._vectors)
            return len(self._vectors)

    def _save(self, vectors: VectorIndex) -> None:
        state = self.store.state()
        assert state.model is not None
        # Rebuilt when: too many hidden HNSW vectors; an IVF index outgrew its training;
        # the store grew or shrank past a threshold of `auto` (not to wait for a restart).
        if (
            vectors.hidden > HNSW_COMPACT_SHARE * max(len(vectors), 1)
            or (vectors.kind == "ivf" and len(vectors) > IVF_RETRAIN_GROWTH * vectors.trained_on)
            or vectors.kind != self._kind_for(len(vectors))
        ):
            vectors = self._vectors = self._rebuild(vectors.dimension, self.store)
        vectors.save(
            self.vector_path,
            VectorHeader(
                state.model,
                vectors.dimension,
                state.generation if self._generation is None else self._generation,
                len(vectors),
                vectors.kind,
                vectors.trained_on,
            ),
        )
        self._dirty = False

    @contextmanager
    def _writer(self) -> Iterator[VectorIndex | None]:
        """Hold the index for a write, after applying what other processes wrote (so the
        generation recorded after this write covers theirs too)."""
        with self._writing:
            vectors = self.vectors()
            self._catch_up(self.store)  # the primary: this write's generation follows its
            yield vectors

    def write(
        self, batch: Sequence[tuple[NewDocument, np.ndarray]], dimension: int
    ) -> list[WriteResult]:
        """Store documents with their chunk embeddings; they are searchable on return."""
        with self._writer() as vectors:
            results = self.store.write(batch, self.model_name, dimension)
            if vectors is None:  # IVF starts flat: it needs vectors to train on
                vectors = self._vectors = VectorIndex(dimension, self._kind_for(0), self.hnsw)
            with self._faiss:
                for (_, embeddings), result in zip(batch, results, strict=True):
                    vectors.remove(np.array(result.removed_chunk_ids, dtype=np.int64))
                    vectors.add(np.array(result.chunk_ids, dtype=np.int64), embeddings)
                    self._high_id = max([self._high_id or 0, *result.chunk_ids])
            self._generation = self.store.state().generation
            self._dirty = True
            return results

    def delete(self, document_ids: Sequence[str]) -> list[int]:
        """Delete documents everywhere; returns the removed chunk ids."""
        with self._writer() as vectors:
            removed = self.store.delete_documents(document_ids)
            self._removed(vectors, removed)
            return removed

    def delete_collection(self, name: str) -> tuple[int, list[int]]:
        """Delete a collection with its documents everywhere; (documents, removed chunk ids)."""
        with self._writer() as vectors:
            documents, removed = self.store.delete_collection(name)
            self._removed(vectors, removed)
            return documents, removed

    def _removed(self, vectors: VectorIndex | None, chunk_ids: list[int]) -> None:
        if vectors is not None:
            with self._faiss:
                vectors.remove(np.array(chunk_ids, dtype=np.int64))
            self._dirty = True
        self._generation = self.store.state().generation

    def flush(self) -> None:
        """Save the vector index if it changed since it was last saved."""
        with self._writing:
            if self._dirty and self._vectors is not None:
                self._save(self._vectors)

    def scope_ids(self, scope: Scope, generation: int | None = None) -> np.ndarray:
        """Ascending chunk ids inside `scope`, cached until the store changes (`generation`:
        the store's, when the caller has just read it)."""
        if generation is None:
            generation = self.reads.state().generation
        cached = self._scopes.get(scope)
        if cached is not None and cached[0] == generation:
            return cached[1]
        ids = self.reads.scope_chunk_ids(scope)
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
        self, query: np.ndarray, k: int, scope: Scope | None = None, generation: int | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the k nearest chunks inside `scope`, best first.
        Ids may include chunks deleted by another process since the index was loaded;
        join them to the store (which skips those). `generation`: as `refresh()` returned."""
        vectors = self.vectors()
        if vectors is None or len(vectors) == 0 or k <= 0:
            return []
        allowed = None
        if scope is not None and not scope.everything:
            allowed = self.scope_ids(scope, generation)
            if len(allowed) == 0:
                return []
        with self._faiss:
            scores, ids = vectors.search(query, k if vectors.exact else RESCORE * k, allowed)
        found = [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        if not vectors.exact:
            found = self._rescored(query.reshape(-1), found, vectors.dimension)[:k]
        return found

    def _rescored(
        self, query: np.ndarray, found: list[tuple[int, float]], dimension: int
    ) -> list[tuple[int, float]]:
        """Candidates of a compressed index ranked by their exact cosine, from the stored
        vectors (a candidate deleted since keeps its approximate score: the join drops it;
        so does one a standby has not replayed yet)."""
        exact = dict(found)
        for ids, matrix in self.reads.iter_embeddings(dimension, ids=[i for i, _ in found]):
            exact.update(zip(ids.tolist(), (matrix @ query).tolist(), strict=True))
        return sorted(exact.items(), key=lambda pair: -pair[1])

    def lexical_search(
        self, query: str, k: int, scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, score) of the k chunks best matching `query`'s words, best first."""
        return self.reads.lexical_search(query, k, scope)

    def known_documents(self, collection: str) -> dict[str, KnownDocument]:
        """source -> (id, content hash) of every document of `collection`."""
        return self.store.known_documents(collection)

    def document_text(self, document_id: str) -> str:
        """The full extracted text of a document (the text citations' offsets index)."""
        return self.store.document_text(document_id)

    def embeddings(self, chunk_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of `chunk_ids` (from the index, no re-embedding), one row each."""
        vectors = self.vectors()
        if vectors is None:
            raise ValueError("the knowledge base is empty: no embeddings to read")
        rows: dict[int, np.ndarray] = {}
        missing: list[int] = []
        if not vectors.exact:  # compressed codes: the exact vectors are the stored ones
            missing = list(chunk_ids)
        else:
            for chunk_id in chunk_ids:
                try:
                    with self._faiss:
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
